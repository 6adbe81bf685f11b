"""What a user finds of the public API: in ``dir()``, in ``__all__`` and in the API reference.

``dir(voipano_async)`` once offered ``Any``, ``TYPE_CHECKING`` and ``importlib`` to tab
completion, and the reference showed ``DEFAULT_TIMEOUT`` (a private constant's name) where
the timeout's value belonged, and private mixins (``ClientSettings``, ``ChargedCalls``,
``Reads``) as ``AsyncVoipano``'s bases. The reference is read here as the site's build reads
it: griffe with the extensions of mkdocs.yml (those tests need the docs toolchain and run in
the ``docs`` nox session).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import voipano_async
import voipano_async.testing

from .conftest import ROOT, run_python

PUBLIC_MODULES = [voipano_async, voipano_async.testing]
# Names a module imports for its own use: never part of what it offers.
HELPERS = {"Any", "TYPE_CHECKING", "annotations", "importlib", "sys", "typing"}


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_dir_lists_the_public_names_and_nothing_else(module: ModuleType) -> None:
    listed = dir(module)
    assert listed == sorted(module.__all__)
    assert not HELPERS & set(listed)
    assert not [name for name in listed if _private(name)]
    namespace: dict[str, Any] = {}
    for name in listed:
        exec(f"from {module.__name__} import {name}", namespace)
        assert namespace[name] is getattr(module, name)


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda m: m.__name__)
def test_every_name_in_all_exists_once(module: ModuleType) -> None:
    assert len(set(module.__all__)) == len(module.__all__)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing


def test_dir_does_not_load_the_blocking_client() -> None:
    """Tab completion lists ``Voipano`` without paying for its thread machinery."""
    out = run_python(
        "import sys, voipano_async\n"
        "names = dir(voipano_async)\n"
        "print('Voipano' in names, 'voipano_async._voipano' in sys.modules)"
    )
    assert out.split() == ["True", "False"]


def test_every_public_name_is_in_the_reference() -> None:
    page = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: (\S+)$", page, flags=re.M))
    missing = [
        f"{module.__name__}.{name}"
        for module in PUBLIC_MODULES
        for name in module.__all__
        if f"{module.__name__}.{name}" not in documented
    ]
    assert not missing, f"not in docs/reference.md: {missing}"


# The reference as the site shows it: griffe with mkdocs.yml's extensions.


@pytest.fixture(scope="module")
def griffe() -> ModuleType:
    return pytest.importorskip("griffe", reason="the docs toolchain is not installed here")


@pytest.fixture(scope="module")
def reference(griffe: ModuleType) -> Any:
    """The package as the reference reads it, with the extensions mkdocs.yml names."""
    yaml = pytest.importorskip("yaml")
    # mkdocs.yml has no custom tags: the safe loader reads it.
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    (mkdocstrings,) = (p["mkdocstrings"] for p in config["plugins"] if "mkdocstrings" in p)
    options = mkdocstrings["handlers"]["python"]["options"]
    extensions = [str(ROOT / extension) for extension in options["extensions"]]
    assert any(e.endswith("griffe_public.py:PublicReference") for e in extensions)
    return griffe.load(
        "voipano_async",
        search_paths=[str(ROOT)],
        extensions=griffe.load_extensions(*extensions),
    )


def _public_paths(reference: Any) -> set[str]:
    """Where every name of a public ``__all__`` is defined."""
    return {
        reference.modules_collection[f"{module.__name__}.{name}"].final_target.path
        for module in PUBLIC_MODULES
        for name in module.__all__
    }


def _reachable(path: str, public: set[str]) -> bool:
    """Whether a user reaches ``path`` by public names (``voipano_async.Fault.kind``, say)."""
    if not path.startswith("voipano_async."):
        return True  # another package's (httpx2.Timeout, Exception)
    if not any(_private(part) for part in path.split(".")):
        return True
    return any(
        path.startswith(f"{p}.") and not any(map(_private, path[len(p) + 1 :].split(".")))
        for p in public
    ) or (path in public)


def _names(griffe: Any, expr: object) -> Iterator[Any]:
    """The names (``a``, ``a.b``) an expression is made of, each whole."""
    if isinstance(expr, griffe.ExprName | griffe.ExprAttribute):
        yield expr
    elif isinstance(expr, griffe.Expr):
        for part in expr.iterate(flat=False):
            yield from _names(griffe, part)


def _shown(reference: Any) -> Iterator[Any]:
    """Every public object the reference shows, and the public members of public classes."""
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            obj = reference.modules_collection[f"{module.__name__}.{name}"].final_target
            yield obj
            if obj.is_class:
                for member_name, member in obj.all_members.items():
                    if member_name == "__init__" or not _private(member_name):
                        yield member.final_target if member.is_alias else member


@pytest.mark.built_docs
def test_the_reference_shows_asyncvoipanos_defaults_as_values(reference: Any) -> None:
    """The values a user gets, as Python writes them: not ``DEFAULT_TIMEOUT``."""
    init = reference["AsyncVoipano"].final_target.members["__init__"]
    shown = {p.name: str(p.default) for p in init.parameters if p.default is not None}
    actual = inspect.signature(voipano_async.AsyncVoipano).parameters
    assert shown["timeout"] == repr(actual["timeout"].default)
    assert shown["timeout"].startswith("Timeout(connect=5.0, read=30.0")
    for name, default in shown.items():
        assert default == repr(actual[name].default), name
    # The blocking client documents the same parameters.
    blocking = reference["Voipano"].final_target.members["__init__"]
    assert {p.name: str(p.default) for p in blocking.parameters if p.default} == shown


@pytest.mark.built_docs
def test_no_default_or_value_shown_names_a_private_object(griffe: Any, reference: Any) -> None:
    public = _public_paths(reference)
    problems = []
    for obj in _shown(reference):
        shown: list[tuple[str, object]] = []
        if obj.is_function:
            shown = [(f"{obj.path}({p.name}=)", p.default) for p in obj.parameters]
        elif obj.is_attribute and "instance-attribute" not in obj.labels:
            shown = [(f"{obj.path} =", obj.value)]
        for where, expr in shown:
            for name in _names(griffe, expr):
                if not _reachable(name.canonical_path, public):
                    problems.append(f"{where} {expr} names {name.canonical_path}")
    assert not problems, "\n".join(problems)


@pytest.mark.built_docs
def test_no_private_base_is_shown(reference: Any) -> None:
    public = _public_paths(reference)
    shown = {
        obj.path: [base.canonical_path for base in obj.bases]
        for obj in _shown(reference)
        if obj.is_class
    }
    private = {
        path: bases
        for path, bases in shown.items()
        if not all(_reachable(b, public) for b in bases)
    }
    assert not private
    assert shown["voipano_async._client.AsyncVoipano"] == []
    assert shown["voipano_async._models.CallOtpResult"] == ["voipano_async._models.Answer"]
    assert shown["voipano_async._exceptions.APITimeoutError"] == [
        "voipano_async._exceptions.APIConnectionError"
    ]


def _private_bases(cls: type, public: list[object]) -> Iterator[type]:
    """The package's private classes ``cls`` inherits from, but not through a public one
    (whose own entry in the reference shows what it has)."""
    for base in cls.__bases__:
        if base.__module__.startswith("voipano_async") and base not in public:
            yield base
            yield from _private_bases(base, public)


@pytest.mark.built_docs
def test_what_a_private_base_gives_is_shown_as_the_class_own(reference: Any) -> None:
    """``call_otp`` comes from a private mixin: it is on AsyncVoipano's page, with or
    without ``inherited_members``, as ``to_dict`` is on every model's."""
    public = [getattr(module, name) for module in PUBLIC_MODULES for name in module.__all__]
    missing = []
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            cls = getattr(module, name)
            if not inspect.isclass(cls):
                continue
            shown = reference.modules_collection[f"{module.__name__}.{name}"].final_target
            for base in _private_bases(cls, public):
                for member in vars(base):
                    given = shown.members.get(member)
                    if not member.startswith("_") and (given is None or given.inherited):
                        missing.append(f"{name}.{member} (from {base.__qualname__})")
    assert not missing
    client = reference["AsyncVoipano"].final_target
    assert {"call_otp", "call_reports", "timeout", "with_options"} <= set(client.members)
    assert "to_dict" in reference["Billing"].final_target.members
