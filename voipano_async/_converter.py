"""The one cattrs converter: how JSON becomes models, and how a misfit is explained.

Hooks are generated once per class by cattrs (``make_dict_structure_fn``). The converter is
lenient about keys it does not know (they go to the model's ``extra``) and strict about
types: a string where an int belongs is an error, and so is ``true`` where an int belongs
(``bool`` is an ``int`` subclass in Python, not in JSON).

Two converters are built: a fast one for every answer, and a detailed-validation one that
only runs after the fast one failed, to say precisely what did not fit and where. Both
are built on first use, not at import: ``import voipano_async`` stays quick.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType, UnionType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, Union, cast, get_args, get_origin

import attrs

from . import _models

if TYPE_CHECKING:
    import cattrs

__all__ = ["ShapeError", "make_converter", "structure"]

T = TypeVar("T")

_MODELS: tuple[type[Any], ...] = tuple(
    getattr(_models, name) for name in _models.__all__ if attrs.has(getattr(_models, name))
)


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


def _model_hook(
    cl: type[Any], converter: cattrs.Converter, *, strict: bool
) -> Callable[[Any, Any], Any]:
    from cattrs.gen import make_dict_structure_fn, override

    names = [a.name for a in attrs.fields(cl)]
    has_extra = "extra" in names
    if has_extra:
        base = make_dict_structure_fn(
            cl, converter, _cattrs_forbid_extra_keys=strict, extra=override(omit=True)
        )
    else:
        base = make_dict_structure_fn(cl, converter, _cattrs_forbid_extra_keys=strict)
    known = frozenset(names) - {"extra"}

    if strict or not has_extra:

        def structure_plain(value: Any, _: Any) -> Any:
            if type(value) is not dict:
                if type(value) is cl:
                    return value  # the envelope's billing, structured on its own path
                _mismatch("an object", value)
            return base(value, cl)

        return structure_plain

    # The unknown keys of each shape of object seen (the keys, in order), so that a page
    # of a hundred alike reports works them out once, not a hundred times.
    extras_of: dict[tuple[str, ...], tuple[str, ...]] = {}

    def structure_model(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            if type(value) is cl:
                return value  # the envelope's billing, structured on its own path
            _mismatch("an object", value)
        result = base(value, cl)
        shape = tuple(value)
        extra = extras_of.get(shape)
        if extra is None:
            extra = tuple(key for key in shape if key not in known)
            if len(extras_of) < 256:
                extras_of[shape] = extra
        if extra:
            # The model is frozen; this is the one place that fills ``extra`` after
            # construction, so the generated hook stays cattrs' fast path.
            unknown = MappingProxyType({key: value[key] for key in extra})
            object.__setattr__(result, "extra", unknown)
        return result

    return structure_model


def make_converter(*, strict: bool = False, detailed: bool = False) -> cattrs.Converter:
    """Build a converter for the SDK's models.

    Args:
        strict: Reject unknown keys (``forbid_extra_keys``) instead of keeping them in
            ``extra``. The SDK itself is lenient; the test suite runs the published samples
            through a strict converter so that drift in our models shows up.
        detailed: Collect every problem with its path (slower); used to explain failures.
    """
    import cattrs

    for model in _MODELS:
        # The models' annotations are strings; resolve them in their own module (the
        # package re-labels the classes ``voipano_async.X`` for reprs and docs).
        attrs.resolve_types(model, globalns=vars(_models))
    converter = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=strict)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_factory(_is_list, cast(Any, _strict_list_factory))
    if not detailed:
        # The detailed converter keeps cattrs' own handling, which names the failing type.
        converter.register_structure_hook_factory(_is_optional, cast(Any, _optional_factory))
    for model in _MODELS:
        converter.register_structure_hook(model, _model_hook(model, converter, strict=strict))
    return converter


_converters: dict[str, cattrs.Converter] = {}


def _converter(kind: str) -> cattrs.Converter:
    converter = _converters.get(kind)
    if converter is None:
        converter = _converters[kind] = make_converter(detailed=kind == "detailed")
    return converter


def _describe_problem(exc: BaseException, tp: type[Any] | None) -> str:
    from cattrs.v import format_exception

    if isinstance(exc, TypeError) and str(exc).startswith("expected "):
        return str(exc)
    return format_exception(exc, tp)


def _explain(value: object, cl: type[Any], path: str) -> list[str]:
    import cattrs

    try:
        _converter("detailed").structure(value, cl)
    except Exception as exc:
        return cattrs.transform_error(exc, path=path, format_exception=_describe_problem)
    return [f"does not fit {cl.__name__} @ {path}"]


def structure(value: object, cl: type[T], *, path: str = "$") -> T:
    """Structure decoded JSON into ``cl``, raising ``ShapeError`` when it does not fit."""
    converter = _converters.get("fast") or _converter("fast")
    try:
        return converter.structure(value, cl)
    except Exception:
        raise ShapeError(_explain(value, cl, path)) from None
