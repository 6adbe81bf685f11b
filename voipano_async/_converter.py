"""How JSON becomes models, and how a misfit is explained: one set of rules, one generator.

One table of type rules (``RULES``: what a JSON value must be to fill a field of each
scalar type) is read by one structuring path. Every attrs class, listed anywhere or not,
gets its structuring function from the hook factories of a cattrs converter (registered
on ``attrs.has``, as microsoft/lsprotocol does), and every such function is made by one
generator, ``_generate``, as cattrs makes its own: once per class, the rules' types
checked inline. The converter is lenient about keys it does not know (they go to the
model's ``extra``, in the order sent) and strict about types: a string where an int
belongs is an error, and so is ``true`` where an int belongs (``bool`` is an ``int``
subclass in Python, not in JSON).

An answer is structured whole, as an ``Envelope`` (``_models``): the problems say where
they are, at ``$.ok``, ``$.data...`` or ``$.billing...``. Its ``data`` is read as
``Fields[R]``, the result model's own fields: a result's ``billing`` is the envelope's and
its ``meta`` the response's, so a ``billing`` key the server puts inside ``data`` is one
more unknown key, kept in ``extra``.

``CONVERTERS`` holds two converters from the same rules and the same generator, each built
on first use (``import voipano_async`` stays quick): ``fast`` for every answer, and
``detailed`` (cattrs' ``detailed_validation``: the same functions, every problem noted
with its field), which runs only after the fast one failed, to say what did not fit and
where (``cattrs.transform_error``).

A new field type, or a new rule for one, is one entry in ``RULES``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, UnionType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, Union, cast, get_args, get_origin

import attrs
import httpx2

from ._mend import Leaf, leaves, mend, problem
from ._models import FREE, Envelope, Fields, ResponseMeta
from ._rules import ABSENT, RULES, Drift, Hook, Rule, mismatch, shown

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "CONVERTERS",
    "RULES",
    "Converters",
    "Rule",
    "ShapeError",
    "explain",
    "make_converter",
    "structure",
]

T = TypeVar("T")


class ShapeError(Exception):
    """A value that does not fit its model; ``problems`` says what and where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# -- lists and optional values ----------------------------------------------------------------


def _is_optional(tp: Any) -> bool:
    args = get_args(tp)
    return len(args) == 2 and type(None) in args and get_origin(tp) in (Union, UnionType)


def _without_none(tp: Any) -> Any:
    return next(arg for arg in get_args(tp) if arg is not type(None))


def _is_list(tp: Any) -> bool:
    return get_origin(tp) is list


def _list_factory(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """A JSON array, and nothing else iterable (a string or an object is not a list).

    Explained, an empty object (``{}``: PHP's empty collection) reads as an empty array.
    """
    from cattrs.cols import list_structure_factory

    inner = list_structure_factory(tp, converter)
    explaining = converter.detailed_validation

    def structure_list(value: object, cl: Any) -> Any:
        if type(value) is not list:
            if explaining and value == {}:
                raise Drift("expected an array, got an object", value, [])
            mismatch("an array", value)
        return inner(value, cl)

    return structure_list


# -- models: one generator --------------------------------------------------------------------


def _read(cl: type[Any], *, leave: str = "") -> list[Any]:
    """The fields of ``cl`` read from its JSON object; ``leave`` names one it does not hold."""
    attrs.resolve_types(cl)
    return [
        field
        for field in attrs.fields(cl)
        if field.init
        and field.type is not ResponseMeta  # a result's meta: never from JSON
        and field.name not in {leave, "extra"}
    ]


def _unknown_keys(cl: type[Any], converter: cattrs.Converter) -> str:
    """What becomes of the keys no field names: kept in ``extra``, refused, or ignored."""
    if converter.forbid_extra_keys:
        return "refuse"
    return "keep" if "extra" in attrs.fields_dict(cl) else "ignore"


def _check(
    i: int, field: Any, hook: Hook | None, factories: _Factories, scope: dict[str, Any]
) -> str:
    """The expression that reads ``v{i}`` into ``field``: a rule's types checked inline.

    A value a rule takes as it is costs no call; any other goes to the rule's hook (which
    converts it or says what was expected), and a field of any other type to its hook.
    """
    v, tp = f"v{i}", field.type
    optional = _is_optional(tp)
    rule = factories.rules.get(_without_none(tp) if optional else tp) if hook is None else None
    scope[f"h{i}"] = hook or factories.converter.get_structure_hook(tp)
    if rule is None:
        scope[f"t{i}"] = tp
        return f"h{i}({v}, t{i})"
    if len(rule.takes) == 1:  # the usual case, checked by identity
        (scope[f"k{i}"],) = rule.takes
        taken = f"{v} is None or type({v}) is k{i}" if optional else f"type({v}) is k{i}"
    else:
        scope[f"k{i}"] = (rule.takes | {type(None)}) if optional else rule.takes
        taken = f"type({v}) in k{i}"
    return f"{v} if {taken} else h{i}({v}, None)"


def _expected(tp: Any, rules: Mapping[type, Rule]) -> str:
    """What a problem says belongs in a field of type ``tp``."""
    tp = _without_none(tp) if _is_optional(tp) else tp
    if tp in rules:
        return rules[tp].expected
    if _is_list(tp):
        return "an array"
    return "an object" if attrs.has(get_origin(tp) or tp) else getattr(tp, "__name__", str(tp))


def _not_an_object(value: object, empty: object) -> NoReturn:
    """Explained: an empty array (PHP's empty object) reads as ``empty``; else a misfit."""
    if value == []:
        raise Drift("expected an object, got an array", value, empty)
    mismatch("an object", value)


def _generate(
    target: Any,
    fields: Sequence[Any],
    factories: _Factories,
    *,
    name: str,
    unknown: str,
    hooks: Mapping[str, Hook] = MappingProxyType({}),
) -> Hook:
    """Generate the structuring function of ``target`` from the fields it reads.

    The one generator of the SDK, for every attrs class (models, a result's ``Fields``, the
    ``Envelope``), as cattrs generates its own: the rules' types checked inline, and the
    keys no field names (``unknown``) kept, handed to the constructor as ``extra`` in the
    order sent so that the object is built once, or refused, or ignored. ``hooks``
    replaces a field's hook.

    With the converter's ``detailed_validation`` (``explaining``) the same function
    collects every problem, each noted with its field for ``cattrs.transform_error`` to
    give its path, and raises ``Drift`` for what reads without loss though it drifted: an
    empty array for an object (read as ``{}``, or as null when the object cannot be
    empty), and a ``null`` in a field that has a default (read as missing).

    Kept instead of cattrs' ``make_dict_structure_fn``: over the same rules that costs
    about 0.4 µs more per call report (``benchmarks/decode.py`` shows both).
    """
    from cattrs.errors import AttributeValidationNote, ClassValidationError
    from cattrs.errors import ForbiddenExtraKeysError as Forbidden

    explaining = factories.converter.detailed_validation
    required = any(field.default is attrs.NOTHING for field in fields)
    scope: dict[str, Any] = {
        "mismatch": mismatch,
        "not_an_object": _not_an_object,
        "Drift": Drift,
        "ABSENT": ABSENT,
        "target": target,
        "MappingProxyType": MappingProxyType,
        "_missing": object(),
        "Invalid": ClassValidationError,
        "Forbidden": Forbidden,
        "known": frozenset(field.name for field in fields),
        # The unknown keys of each shape of object seen (its keys, in order), so that a
        # page of a hundred alike reports works them out once, not a hundred times.
        "extras_of": {},
        # What an empty array in an object's place reads as, explained.
        "empty": None if required else {},
    }
    refuse = "not_an_object(value, empty)" if explaining else "mismatch('an object', value)"
    lines = ["def structure(value, _):", "    if type(value) is not dict:", f"        {refuse}"]
    if explaining:
        lines.append("    errors = []")
    arguments = []
    for i, field in enumerate(fields):
        v, key = f"v{i}", field.name
        check = _check(i, field, hooks.get(key), factories, scope)
        if field.default is attrs.NOTHING:
            steps = [f"{v} = value[{key!r}]", f"{v} = {check}"]  # a missing key fails here
        else:
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                if default.takes_self:
                    raise TypeError(f"{name}.{key}: a default taking self cannot be structured")
                scope[f"f{i}"] = default.factory
                default_value = f"f{i}()"
            else:
                scope[f"d{i}"] = default
                default_value = f"d{i}"
            steps = [
                f"{v} = value.get({key!r}, _missing)",
                f"{v} = {default_value} if {v} is _missing else {check}",
            ]
            if explaining and not _is_optional(field.type):
                # A field the answer can do without: null reads as missing, its default.
                expected = _expected(field.type, factories.rules)
                reading = shown(default) if not isinstance(default, attrs.Factory) else ""  # type: ignore[arg-type]
                scope[f"m{i}"] = (f"expected {expected}, got null", reading or "its default")
                steps.insert(1, f"if {v} is None: raise Drift(m{i}[0], None, ABSENT, m{i}[1])")
        if explaining:
            scope[f"n{i}"] = AttributeValidationNote(
                f"Structuring class {name} @ attribute {key}", key, field.type
            )
            lines += ["    try:", *(f"        {step}" for step in steps)]
            lines += [
                "    except Exception as e:",
                f"        e.__notes__ = [*getattr(e, '__notes__', []), n{i}]",
                "        errors.append(e)",
            ]
        else:
            lines += [f"    {step}" for step in steps]
        arguments.append(f"{key}={v}")
    if unknown != "ignore":
        lines += [
            "    shape = tuple(value)",
            "    extra = extras_of.get(shape)",
            "    if extra is None:",
            "        extra = tuple(key for key in shape if key not in known)",
            "        if len(extras_of) < 256:",
            "            extras_of[shape] = extra",
        ]
    if unknown == "refuse":
        refusal = "errors.append" if explaining else "raise "
        lines += ["    if extra:", f"        {refusal}(Forbidden('', target, set(extra)))"]
    if explaining:
        lines.append(f"    if errors: raise Invalid('While structuring {name}', errors, target)")
    build = "target(" + ", ".join(arguments)
    if unknown == "keep":
        lines += [
            "    if extra:",
            f"        return {build}{', ' if arguments else ''}"
            "extra=MappingProxyType({k: value[k] for k in extra}))",
        ]
    lines.append(f"    return {build})")
    code = compile("\n".join(lines), f"<voipano structure {name}>", "exec")
    exec(code, scope)  # the source is built above from field names only, never from data
    structure: Hook = scope["structure"]
    return structure


# -- the factories: every hook of a converter, from one table of rules ------------------------


def _is_fields(tp: Any) -> bool:
    return get_origin(tp) is Fields


def _is_envelope(tp: Any) -> bool:
    origin = get_origin(tp)
    return isinstance(origin, type) and issubclass(origin, Envelope)


def _envelope_ok(value: object, _: object) -> bool:
    # ``ok: false`` never gets here: it is an error answer, read as one.
    if value is True or value is False:
        return value
    raise TypeError("expected a boolean")


class _Factories:
    """The hook factories of one converter, all reading its one table of rules."""

    def __init__(self, converter: cattrs.Converter, rules: Mapping[type, Rule]) -> None:
        self.converter = converter
        self.rules = rules

    def optional(self, tp: Any) -> Hook:
        """``X | None``: ``null``, or what ``X``'s hook accepts (looked up once)."""
        inner_type = _without_none(tp)
        if inner_type in self.rules:
            explaining = self.converter.detailed_validation
            return self.rules[inner_type].hook(inner_type, optional=True, explaining=explaining)
        inner = self.converter.get_structure_hook(inner_type)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure_optional

    def model(self, cl: Any) -> Hook:
        """The hook of any attrs class, unknown keys kept in its ``extra``."""
        origin = get_origin(cl) or cl
        unknown = _unknown_keys(origin, self.converter)
        return _generate(cl, _read(origin), self, name=origin.__qualname__, unknown=unknown)

    def fields(self, tp: Any) -> Hook:
        """``Fields[R]``: the fields of the result model ``R`` that an answer's ``data`` holds.

        All but ``billing`` (the envelope's) and ``meta`` (the response's), as keyword
        arguments for ``R``.
        """
        (result,) = get_args(tp)
        if not attrs.has(result) or "billing" not in attrs.fields_dict(result):
            raise TypeError(f"{result.__name__} is not a result model: it has no billing field")
        read = _read(result, leave="billing")
        unknown = _unknown_keys(result, self.converter)
        return _generate(Fields, read, self, name=result.__qualname__, unknown=unknown)

    def envelope(self, tp: Any) -> Hook:
        """``Envelope[R]``: ``ok``, ``billing``, and ``data`` read as ``Fields[R]``.

        The ``billing`` every free endpoint sends is read as the one ``FREE`` object,
        without structuring it again. Explained, the envelope's own two keys say what
        they must be, without what came: an answer lacking them is not the API's at all.
        """
        origin, (result,) = get_origin(tp), get_args(tp)
        billing_type = attrs.fields_dict(origin)["billing"].type
        billing = self.converter.get_structure_hook(billing_type)

        def read_billing(value: Any, _: object) -> Any:
            if value == _FREE_SENT and type(value["charged"]) is type(value["unit_price"]) is int:
                return FREE
            return billing(value, billing_type)

        fields = self.converter.get_structure_hook(Fields[result])  # type: ignore[valid-type]
        read, name = _read(origin), origin.__qualname__
        if not self.converter.detailed_validation:
            hooks = {"billing": read_billing, "data": fields}
            return _generate(origin, read, self, name=name, unknown="ignore", hooks=hooks)

        def data(value: object, _: object) -> Any:
            if value == []:
                raise Drift("expected an object", value, {})
            if type(value) is not dict:
                raise TypeError("expected an object")
            return fields(value, None)

        hooks = {"billing": read_billing, "data": data, "ok": _envelope_ok}
        # Keys besides its three are no concern of the envelope.
        base = _generate(origin, read, self, name=name, unknown="ignore", hooks=hooks)

        def explain_envelope(value: Any, _: Any) -> Any:
            if type(value) is dict and "data" not in value:
                value = {**value, "data": None}  # as much a misfit as "data": null
            return base(value, tp)

        return explain_envelope


# What a free endpoint's answer says it cost (``false`` is not ``0``: its types are checked).
_FREE_SENT = {"charged": 0, "unit_price": 0}


# -- the converters ---------------------------------------------------------------------------


def make_converter(
    *, strict: bool = False, detailed: bool = False, rules: Mapping[type, Rule] = RULES
) -> cattrs.Converter:
    """Build a converter for the SDK's models, and for any other attrs class.

    Args:
        strict: Reject unknown keys (``forbid_extra_keys``) instead of keeping them in
            ``extra``. The SDK itself is lenient; the test suite runs the published samples
            through a strict converter so that drift in our models shows up.
        detailed: Collect every problem with its path (slower); used to explain failures.
        rules: The type rules (``RULES``, unless a test adds one).
    """
    import cattrs

    converter = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=strict)
    factories = _Factories(converter, rules)
    for tp, rule in rules.items():
        converter.register_structure_hook(tp, rule.hook(tp, optional=False, explaining=detailed))
    register = converter.register_structure_hook_factory
    register(_is_list, cast(Any, _list_factory))
    register(_is_optional, factories.optional)
    register(attrs.has, factories.model)
    register(_is_fields, factories.fields)
    # Registered last, so asked first: an envelope is an attrs class with rules of its own.
    register(_is_envelope, factories.envelope)
    converter.register_unstructure_hook_factory(attrs.has, _to_dict_factory(converter))
    converter.register_unstructure_hook(httpx2.Headers, dict)
    converter.register_unstructure_hook(tuple, list)
    return converter


def _to_dict_factory(converter: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    """``to_dict`` for a model: its fields by the server's names, then the keys of its
    ``extra`` (a modelled field wins a clash), without ``meta``; nested models alike."""
    from cattrs.gen import make_dict_unstructure_fn, override

    def factory(cl: Any) -> Callable[[Any], Any]:
        names = {field.name for field in attrs.fields(cl)}
        omit = {name: override(omit=True) for name in ("extra", "meta") if name in names}
        fields = make_dict_unstructure_fn(cl, converter, **cast(Any, omit))
        if "extra" not in names:
            return fields

        def with_extra(model: Any) -> dict[str, Any]:
            record: dict[str, Any] = fields(model)
            for key, value in model.extra.items():
                record.setdefault(key, value)
            return record

        return with_extra

    return factory


_TO_DICT: dict[type, Callable[[Any], Any]] = {}


def to_dict(model: object) -> Any:
    """A model as JSON-ready data (see ``Model.to_dict``), through the fast converter.

    Each class's function is kept here: cattrs' dispatch costs more than the work.
    """
    unstructure = _TO_DICT.get(type(model))
    if unstructure is None:
        unstructure = _TO_DICT[type(model)] = CONVERTERS.fast.get_unstructure_hook(type(model))
    return unstructure(model)


class Converters:
    """A converter for answers and its explaining twin, from one table of rules.

    Each is built on first use; ``CONVERTERS`` are the SDK's, from ``RULES``.
    """

    def __init__(self, rules: Mapping[type, Rule] = RULES) -> None:
        self.rules = rules
        self._hooks: dict[Any, Hook] = {}

    @functools.cached_property
    def fast(self) -> cattrs.Converter:
        """Lenient about keys, strict about types: every answer goes through it."""
        return make_converter(rules=self.rules)

    @functools.cached_property
    def detailed(self) -> cattrs.Converter:
        """The same rules, collecting every problem with its path, to explain a failure."""
        return make_converter(detailed=True, rules=self.rules)

    def hook(self, cl: Any) -> Hook:
        """The fast converter's hook for ``cl``, kept here: cattrs' dispatch costs more."""
        found = self._hooks.get(cl)
        if found is None:
            found = self._hooks[cl] = self.fast.get_structure_hook(cl)
        return found

    def explain(self, value: object, cl: Any, path: str = "$") -> list[str]:
        """What in ``value`` does not fit ``cl``, one line per problem with its JSON path."""
        try:
            self.detailed.structure(value, cl)
        except Exception as error:
            return [problem(leaf, path) for leaf in leaves(error)]
        return [f"does not fit {getattr(cl, '__name__', cl)} @ {path}"]

    def structure(self, value: object, cl: type[T], *, path: str = "$") -> T:
        """Structure decoded JSON into ``cl``, raising ``ShapeError`` when it does not fit.

        A class the converter cannot read at all (a "result" without ``billing``) is a
        programming error, raised as such: ``TypeError``.
        """
        hook = self.hook(cl)
        try:
            result: T = hook(value, cl)
            return result
        except Exception:
            raise ShapeError(self.explain(value, cl, path)) from None

    def read_tolerantly(
        self, value: object, cl: type[T], *, nullable: Sequence[tuple[str, ...]] = ()
    ) -> tuple[T, tuple[str, ...]]:
        """Structure ``value``, which the exact reading refused, tolerantly: the result,
        and what drifted.

        What does not fit as it is but reads without loss (``RULES``' ``drifted``, an
        empty array for an object, ``{}`` for an array, a ``null`` where a field can do
        without) is read so in a copy of ``value``, each reading noted with its place;
        under a ``nullable`` place, a value that cannot be read empties the nearest field
        around it that may be null. What is left raises ``ShapeError``.
        """
        hook = self.hook(cl)
        mended, notes = copy.deepcopy(value), []
        # Each place mended, with what was found there: a mend that leaves what it made
        # unreadable (an empty array read as an object that then lacks its fields) was no
        # reading at all, and the problem is told as it was found.
        origins: dict[tuple[object, ...], Leaf] = {}
        for _ in range(_MENDS):
            try:
                self.detailed.structure(mended, cl)
            except Exception as error:
                found = list(leaves(error))
            else:
                break
            problems: list[str] = []
            for leaf in found:
                origin = next((o for at, o in origins.items() if leaf[0][: len(at)] == at), None)
                note = None if origin is not None else mend(mended, leaf, nullable)
                if note is not None:
                    origins[leaf[0]] = leaf
                    notes.append(note)
                elif (told := problem(origin or leaf)) not in problems:
                    problems.append(told)
            if problems:
                raise ShapeError(problems)
        try:
            return hook(mended, cl), tuple(notes)
        except Exception:
            raise ShapeError(self.explain(mended, cl)) from None


# Rounds of mending an answer: each mend may uncover the next (an empty array read as an
# object that then lacks what it must hold), never more than a few deep.
_MENDS = 4

CONVERTERS = Converters()


structure = CONVERTERS.structure
explain = CONVERTERS.explain
