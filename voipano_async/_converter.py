"""The one cattrs converter: how JSON becomes models, and how a misfit is explained.

Every attrs class gets its hook from one factory registered on ``attrs.has`` (as
microsoft/lsprotocol does), generated once per class whether or not the class is listed
anywhere: for the models of answers our own (``_fast_hook``: types checked inline,
unknown keys handed to the constructor), otherwise cattrs' ``make_dict_structure_fn``.
The converter is lenient about keys it does not know (they go to the model's ``extra``,
in the order sent) and strict about types: a string where an int belongs is an error, and
so is ``true`` where an int belongs (``bool`` is an ``int`` subclass in Python, not in
JSON).

An answer is two halves structured apart: the envelope's ``billing`` into ``Billing``, and
``data`` into the result model's other fields (``structure_result``). A ``billing`` key the
server puts inside ``data`` is then one more unknown key of ``data``, kept in ``extra``.

There are two converters, built on first use (``import voipano_async`` stays quick):
``CONVERTERS.fast`` for every answer, and ``CONVERTERS.detailed``, which only runs after the
fast one failed, to say precisely what did not fit and where.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType, UnionType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, Union, cast, get_args, get_origin

import attrs

if TYPE_CHECKING:
    import cattrs

    from ._models import Billing

__all__ = ["CONVERTERS", "ShapeError", "make_converter", "structure", "structure_result"]

T = TypeVar("T")


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


def _structure_str(value: object, _: object) -> str:
    if type(value) is str:
        return value
    _mismatch("a string", value)


def _structure_int(value: object, _: object) -> int:
    if type(value) is int:
        return value
    _mismatch("an integer", value)


def _structure_float(value: object, _: object) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    _mismatch("a number", value)


def _structure_bool(value: object, _: object) -> bool:
    if value is True or value is False:
        return value
    _mismatch("a boolean", value)


def _optional_str(value: object, _: object) -> str | None:
    if value is None or type(value) is str:
        return value
    _mismatch("a string or null", value)


def _is_optional(tp: Any) -> bool:
    args = get_args(tp)
    return len(args) == 2 and type(None) in args and get_origin(tp) in (Union, UnionType)


def _optional_factory(tp: Any, converter: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
    """``X | None`` with the hook for ``X`` looked up once, not on every value."""
    inner_type = next(arg for arg in get_args(tp) if arg is not type(None))
    if inner_type is str:
        return _optional_str
    inner = converter.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        return None if value is None else inner(value, inner_type)

    return structure_optional


def _is_list(tp: Any) -> bool:
    return get_origin(tp) is list


def _strict_list_factory(tp: Any, converter: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
    from cattrs.cols import list_structure_factory

    inner = list_structure_factory(tp, converter)

    def structure_list(value: object, cl: Any) -> Any:
        if type(value) is not list:
            _mismatch("an array", value)
        return inner(value, cl)

    return structure_list


def _model_hook(cl: type[Any], converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    """The hook of any attrs class: cattrs' generated one, or, for answers, our fast one."""
    names = [a.name for a in attrs.fields(get_origin(cl) or cl)]
    if converter.forbid_extra_keys or converter.detailed_validation or "extra" not in names:
        return _cattrs_hook(cl, converter, omit_extra="extra" in names)
    return _fast_hook(cl, converter)


def _cattrs_hook(
    cl: type[Any], converter: cattrs.Converter, *, omit_extra: bool
) -> Callable[[Any, Any], Any]:
    from cattrs.gen import make_dict_structure_fn, override

    overrides = {"extra": override(omit=True)} if omit_extra else {}
    base = make_dict_structure_fn(cl, converter, **overrides)  # type: ignore[arg-type]

    def structure_plain(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            _mismatch("an object", value)
        return base(value, cl)

    return structure_plain


# What a field's value is checked with, inline, in a fast hook: no call per value.
_INLINE = {
    str: "{v} if type({v}) is str else _mismatch('a string', {v})",
    int: "{v} if type({v}) is int else _mismatch('an integer', {v})",
    bool: "{v} if {v} is True or {v} is False else _mismatch('a boolean', {v})",
}


def _fast_hook(
    cl: type[Any], converter: cattrs.Converter, *, given: str = ""
) -> Callable[[Any, Any], Any]:
    """A structuring function generated for ``cl`` (as cattrs does), for every answer.

    It checks types as the converter's hooks do, with ``str``, ``int``, ``bool`` and their
    ``| None`` checked inline, and passes the unknown keys to the constructor as ``extra``
    (in the order sent), so the object is built once. It only has to fail: a failure is
    explained by the detailed converter, which is plain cattrs. The field named ``given``
    (a result's ``billing``) is not read from ``value`` but passed as the second argument;
    a key of that name in ``value`` is then an unknown key like any other.
    """
    attrs.resolve_types(cl)
    fields = [f for f in attrs.fields(cl) if f.init and f.name not in {"extra", given}]
    scope: dict[str, Any] = {
        "_mismatch": _mismatch,
        "cl": cl,
        "MappingProxyType": MappingProxyType,
    }
    known = frozenset(f.name for f in fields)
    lines = [
        f"def structure(value, {given or '_'}):",
        "    if type(value) is not dict:",
        "        _mismatch('an object', value)",
    ]
    arguments = []
    for i, field in enumerate(fields):
        tp, name, v = field.type, field.name, f"v{i}"
        optional = _is_optional(tp)
        inner = next(a for a in get_args(tp) if a is not type(None)) if optional else tp
        if inner in _INLINE:
            check = _INLINE[inner].format(v=v)
            if optional:
                check = f"None if {v} is None else {check}"
        else:
            scope[f"h{i}"], scope[f"t{i}"] = converter.get_structure_hook(tp), tp
            check = f"h{i}({v}, t{i})"
        if field.default is attrs.NOTHING:
            lines.append(f"    {v} = value[{name!r}]")  # a missing key fails here
            lines.append(f"    {v} = {check}")
        else:
            scope[f"d{i}"] = field.default
            lines.append(f"    {v} = value.get({name!r}, _missing)")
            lines.append(f"    {v} = d{i} if {v} is _missing else {check}")
        arguments.append(f"{name}={v}")
    if given:
        arguments.append(f"{given}={given}")
    scope["_missing"] = object()
    # The unknown keys of each shape of object seen (the keys, in order), so that a page
    # of a hundred alike reports works them out once, not a hundred times.
    scope["extras_of"], scope["known"] = {}, known
    lines += [
        "    shape = tuple(value)",
        "    extra = extras_of.get(shape)",
        "    if extra is None:",
        "        extra = tuple(key for key in shape if key not in known)",
        "        if len(extras_of) < 256:",
        "            extras_of[shape] = extra",
        "    if extra:",
        "        return cl("
        + ", ".join([*arguments, "extra=MappingProxyType({k: value[k] for k in extra})"])
        + ")",
        "    return cl(" + ", ".join(arguments) + ")",
    ]
    code = compile("\n".join(lines), f"<voipano structure {cl.__qualname__}>", "exec")
    exec(code, scope)  # the source is built above from field names and types only
    structure: Callable[[Any, Any], Any] = scope["structure"]
    return structure


def make_converter(*, strict: bool = False, detailed: bool = False) -> cattrs.Converter:
    """Build a converter for the SDK's models, and for any other attrs class.

    Args:
        strict: Reject unknown keys (``forbid_extra_keys``) instead of keeping them in
            ``extra``. The SDK itself is lenient; the test suite runs the published samples
            through a strict converter so that drift in our models shows up.
        detailed: Collect every problem with its path (slower); used to explain failures.
    """
    import cattrs

    converter = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=strict)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_factory(_is_list, cast(Any, _strict_list_factory))
    if not detailed:
        # The detailed converter keeps cattrs' own handling, which names the failing type.
        converter.register_structure_hook_factory(_is_optional, cast(Any, _optional_factory))
    converter.register_structure_hook_factory(attrs.has, cast(Any, _model_hook))
    return converter


class _Converters:
    """The SDK's converters, each built once, on first use."""

    @functools.cached_property
    def fast(self) -> cattrs.Converter:
        """Lenient about keys, strict about types: every answer goes through it."""
        return make_converter()

    @functools.cached_property
    def detailed(self) -> cattrs.Converter:
        """The same rules, collecting every problem with its path, to explain a failure."""
        return make_converter(detailed=True)


CONVERTERS = _Converters()


def _describe_problem(exc: BaseException, tp: type[Any] | None) -> str:
    from cattrs.v import format_exception

    if isinstance(exc, TypeError) and str(exc).startswith("expected "):
        return str(exc)
    return format_exception(exc, tp)


def _explain(value: object, cl: type[Any], path: str, name: str) -> list[str]:
    import cattrs

    try:
        CONVERTERS.detailed.structure(value, cl)
    except Exception as exc:
        return cattrs.transform_error(exc, path=path, format_exception=_describe_problem)
    return [f"does not fit {name} @ {path}"]


def structure(value: object, cl: type[T], *, path: str = "$") -> T:
    """Structure decoded JSON into ``cl``, raising ``ShapeError`` when it does not fit."""
    try:
        return CONVERTERS.fast.structure(value, cl)
    except Exception:
        raise ShapeError(_explain(value, cl, path, cl.__name__)) from None


def _data_half(cl: type[Any]) -> tuple[type[Any], tuple[str, ...]]:
    """An attrs class of the fields of the result model ``cl`` but ``billing``, and their names.

    ``data`` is structured into it, with the same generated hook as any model: so the
    server's own ``data.billing``, if it ever sends one, is an unknown key kept in ``extra``.
    """
    attrs.resolve_types(cl)
    fields = attrs.fields(cl)
    if not any(field.name == "billing" for field in fields):
        raise TypeError(f"{cl.__name__} is not a result model: it has no billing field")
    half = {
        field.name: attrs.field(type=field.type, default=field.default)
        for field in fields
        if field.name != "billing" and field.init  # ``meta`` is set from the response
    }
    return attrs.make_class(f"{cl.__name__}Data", half, frozen=True, kw_only=True), tuple(half)


# Each result model's data half (to explain a failure), made on first use.
_halves: dict[type[Any], tuple[type[Any], tuple[str, ...]]] = {}
# Each result model's fast hook, taking ``data`` and the envelope's billing.
_results: dict[type[Any], Callable[[Any, Any], Any]] = {}


def structure_result(data: Mapping[str, Any], cl: type[T], *, billing: Billing, path: str) -> T:
    """Structure an answer's ``data`` into the result model ``cl``, with the envelope's billing.

    Raises:
        ShapeError: ``data`` does not fit ``cl`` (paths start at ``path``).
        TypeError: ``cl`` has no ``billing`` field.
    """
    hook = _results.get(cl)
    if hook is None:
        _halves[cl] = _data_half(cl)  # refuses a class without billing
        hook = _results[cl] = _fast_hook(cl, CONVERTERS.fast, given="billing")
    try:
        result: T = hook(data, billing)
    except Exception:
        half = _halves[cl][0]
        raise ShapeError(_explain(data, half, path, cl.__name__)) from None
    return result
