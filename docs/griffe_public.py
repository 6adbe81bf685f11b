"""A griffe extension: the reference shows what a user can see and use, not private names.

Two things a static reading shows that a user cannot use:

* A default that names a private constant (``timeout=_config.DEFAULT_TIMEOUT``) says
  nothing about the value. Such a default, in a signature or a Default column, is replaced
  by the constant's value as Python writes it (``Timeout(connect=5.0, read=30.0, ...)``,
  ``2``, ``60.0``). Defaults that name public objects (``NOT_GIVEN``) are kept as names.
* A class's private bases (``AsyncVoipano``'s mixins ``ClientSettings``, ``ChargedCalls``,
  ``Reads``; the models' ``Model``) are left out of its Bases line, each replaced by its
  own public bases, if it has any. What the class has from a private base is shown as the
  class's own members (``AsyncVoipano.call_otp``, ``Billing.to_dict``): there is no page of
  the private base for them to be inherited from.

What is public is read from the package: a name in the ``__all__`` of a public module
(``voipano_async``, ``voipano_async.testing``, ...), or anything whose dotted path has no
part with a leading underscore. A name added to ``__all__`` is handled with no change here.

The values are read from the imported package, so it must be the copy griffe reads: the
build fails if Python imports another one (an installed, older copy).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import griffe

PACKAGE = "voipano_async"


def _private(part: str) -> bool:
    """Whether a part of a dotted path marks what follows as private (dunders do not)."""
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _final(obj: griffe.Object | griffe.Alias) -> griffe.Object:
    """The object itself, not an alias (an import) of it."""
    return obj.final_target if isinstance(obj, griffe.Alias) else obj


def _runtime(obj: griffe.Object) -> Any:
    """The run-time value of a module-level object (or of a class's attribute)."""
    value: Any = importlib.import_module(obj.module.path)
    for part in obj.path[len(obj.module.path) + 1 :].split("."):
        value = getattr(value, part)
    return value


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and every object defined in it (aliases, i.e. imports, left out)."""
    yield obj
    for member in list(obj.members.values()):
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


class PublicReference(griffe.Extension):
    def on_module_instance(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        """Let Python import the package griffe reads, as ``python -m mkdocs`` run from the
        project does (the ``mkdocs`` command alone would find an installed copy first)."""
        if mod.path == PACKAGE and PACKAGE not in sys.modules:
            sys.path.insert(0, str(Path(mod.filepath).parent.parent))  # type: ignore[arg-type]

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        imported = Path(importlib.import_module(PACKAGE).__file__ or "")
        if imported.resolve() != Path(pkg.filepath).resolve():  # type: ignore[arg-type]
            raise RuntimeError(
                f"the reference reads {PACKAGE} from {pkg.filepath}, but Python imports it "
                f"from {imported}: the values shown would be that copy's. Build from the "
                "project's directory with `python -m mkdocs build`."
            )
        # Where each name of a public module's ``__all__`` is defined.
        self._exported = {
            _final(module.members[str(name)]).path
            for module in _walk(pkg)
            if isinstance(module, griffe.Module) and self._public_path(module.path)
            for name in module.exports or ()
        }
        objects = list(_walk(pkg))
        for obj in objects:
            if isinstance(obj, griffe.Function):
                for parameter in obj.parameters:
                    parameter.default = self._shown(obj, parameter.default)
            elif isinstance(obj, griffe.Attribute):
                obj.value = self._shown(obj, obj.value)
        for obj in objects:
            if isinstance(obj, griffe.Class):
                self._drop_private_bases(obj)

    @staticmethod
    def _public_path(path: str) -> bool:
        return not any(_private(part) for part in path.split("."))

    def _is_public(self, obj: griffe.Object) -> bool:
        """Whether a user reaches ``obj`` by public names: through an export or a public path."""
        below: list[str] = []
        current: griffe.Object | None = obj
        while current is not None:
            if current.path in self._exported or (
                current.is_module and self._public_path(current.path)
            ):
                return not any(_private(part) for part in below)
            below.append(current.name)
            current = current.parent
        return False

    def _private_target(self, obj: griffe.Object, expr: object) -> griffe.Object | None:
        """What ``expr`` names, if it is a name of this package that users cannot reach."""
        if not isinstance(expr, griffe.ExprName | griffe.ExprAttribute):
            return None
        path = expr.canonical_path
        if not path.startswith(f"{PACKAGE}."):
            return None
        try:
            target = _final(obj.modules_collection.get_member(path))
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None  # not the package's after all (a local name, say)
        return None if self._is_public(target) else target

    def _shown(self, obj: griffe.Object, default: str | griffe.Expr | None) -> Any:
        """``default`` as shown: a private constant's value, anything else as it is."""
        target = self._private_target(obj, default)
        # An instance attribute is no default's value: griffe resolved a name written in a
        # method (``audio_headers=audio_headers``) to the attribute ``self.audio_headers``.
        if not isinstance(target, griffe.Attribute) or "instance-attribute" in target.labels:
            return default
        shown = repr(_runtime(target))
        # ``<function f at 0x7f...>``, in it or all of it, says less than the name: keep that.
        return default if "<" in shown else shown

    def _public_bases(self, cls: griffe.Class) -> list[str | griffe.Expr]:
        """``cls``'s bases, each private one replaced by its own public bases."""
        bases: list[str | griffe.Expr] = []
        for base in cls.bases:
            target = self._private_target(cls, base)
            shown = self._public_bases(target) if isinstance(target, griffe.Class) else [base]
            bases += [new for new in shown if str(new) not in map(str, bases)]
        return bases

    def _drop_private_bases(self, cls: griffe.Class) -> None:
        bases = self._public_bases(cls)
        if list(map(str, bases)) == list(map(str, cls.bases)):
            return
        inherited = cls.inherited_members
        cls.bases = bases
        # What came from the private bases becomes the class's own: the reference has no
        # page of a private base for it to be inherited from.
        still = cls.inherited_members
        for name, member in inherited.items():
            target = member.final_target
            if name not in still or still[name].final_target is not target:
                cls.members[name] = griffe.Alias(name, target, parent=cls)
