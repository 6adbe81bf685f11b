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

import functools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, UnionType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, Union, cast, get_args, get_origin

import attrs

from ._models import FREE, Envelope, Fields, ResponseMeta

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
Hook = Callable[[Any, Any], Any]


class ShapeError(Exception):
    """A value that does not fit its model; ``problems`` says what and where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _mismatch(expected: str, value: object) -> NoReturn:
    raise TypeError(f"expected {expected}, got {_json_type(value)}")


# -- the type rules ---------------------------------------------------------------------------


@attrs.frozen
class Rule:
    """What a JSON value must be to fill a field of one scalar type.

    Attributes:
        expected: How a problem names what belongs there: ``"an integer"``.
        takes: The Python types of JSON values taken as they are (``bool`` is its own
            type here, not an ``int``).
        converts: The types of JSON values read by ``convert`` instead (an integer for a
            ``float`` field).
        convert: How those are read: the field's type when not given (``float(7)``). A
            value it refuses (``ValueError``, ``TypeError``) is a misfit like any other.
    """

    expected: str
    takes: frozenset[type]
    converts: frozenset[type] = frozenset()
    convert: Callable[[Any], Any] | None = None

    def hook(self, tp: type[Any], *, optional: bool) -> Hook:
        """The structuring function for a field of type ``tp`` (``tp | None`` if optional).

        One call per value, whatever the rule: the types taken are checked in one step.
        """
        takes = (self.takes | {type(None)}) if optional else self.takes
        expected, converts, convert = self.expected, self.converts, self.convert or tp

        def structure_scalar(value: Any, _: Any) -> Any:
            if type(value) in takes:
                return value
            if type(value) in converts:
                try:
                    return convert(value)
                except (ValueError, TypeError, OverflowError):
                    raise TypeError(
                        f"expected {expected}, got {_json_type(value)} that is not one"
                    ) from None
            _mismatch(expected, value)

        return structure_scalar


RULES: Mapping[type, Rule] = MappingProxyType(
    {
        str: Rule("a string", frozenset({str})),
        int: Rule("an integer", frozenset({int})),
        float: Rule("a number", frozenset({float}), converts=frozenset({int})),
        bool: Rule("a boolean", frozenset({bool})),
    }
)
"""The one table of type rules: for each scalar type a field may have, what fills it.

Every converter reads it, and so every model and every endpoint; a new field type, or a
new way of reading one, is one entry here.
"""


# -- lists and optional values ----------------------------------------------------------------


def _is_optional(tp: Any) -> bool:
    args = get_args(tp)
    return len(args) == 2 and type(None) in args and get_origin(tp) in (Union, UnionType)


def _without_none(tp: Any) -> Any:
    return next(arg for arg in get_args(tp) if arg is not type(None))


def _is_list(tp: Any) -> bool:
    return get_origin(tp) is list


def _list_factory(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """A JSON array, and nothing else iterable (a string or an object is not a list)."""
    from cattrs.cols import list_structure_factory

    inner = list_structure_factory(tp, converter)

    def structure_list(value: object, cl: Any) -> Any:
        if type(value) is not list:
            _mismatch("an array", value)
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
    replaces a field's hook. With the converter's ``detailed_validation`` the same
    function collects every problem, each noted with its field for
    ``cattrs.transform_error`` to give its path.

    Kept instead of cattrs' ``make_dict_structure_fn``: over the same rules that costs
    about 0.4 µs more per call report (``benchmarks/decode.py`` shows both).
    """
    from cattrs.errors import AttributeValidationNote, ClassValidationError
    from cattrs.errors import ForbiddenExtraKeysError as Forbidden

    detailed = factories.converter.detailed_validation
    scope: dict[str, Any] = {
        "_mismatch": _mismatch,
        "target": target,
        "MappingProxyType": MappingProxyType,
        "_missing": object(),
        "Note": AttributeValidationNote,
        "Invalid": ClassValidationError,
        "Forbidden": Forbidden,
        "known": frozenset(field.name for field in fields),
        # The unknown keys of each shape of object seen (its keys, in order), so that a
        # page of a hundred alike reports works them out once, not a hundred times.
        "extras_of": {},
    }
    lines = [
        "def structure(value, _):",
        "    if type(value) is not dict:",
        "        _mismatch('an object', value)",
    ]
    if detailed:
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
        if detailed:
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
        refuse = "errors.append" if detailed else "raise "
        lines += ["    if extra:", f"        {refuse}(Forbidden('', target, set(extra)))"]
    if detailed:
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
            return self.rules[inner_type].hook(inner_type, optional=True)
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
        converter.register_structure_hook(tp, rule.hook(tp, optional=False))
    register = converter.register_structure_hook_factory
    register(_is_list, cast(Any, _list_factory))
    register(_is_optional, factories.optional)
    register(attrs.has, factories.model)
    register(_is_fields, factories.fields)
    # Registered last, so asked first: an envelope is an attrs class with rules of its own.
    register(_is_envelope, factories.envelope)
    return converter


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
        import cattrs

        try:
            self.detailed.structure(value, cl)
        except Exception as exc:
            return cattrs.transform_error(exc, path=path, format_exception=_describe_problem)
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


CONVERTERS = Converters()


def _describe_problem(exc: BaseException, tp: type[Any] | None) -> str:
    from cattrs.v import format_exception

    if isinstance(exc, TypeError) and str(exc).startswith("expected "):
        return str(exc)
    return format_exception(exc, tp)


structure = CONVERTERS.structure
explain = CONVERTERS.explain
