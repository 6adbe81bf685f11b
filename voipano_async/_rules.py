"""The type rules: what a JSON value must be to fill a field of each scalar type.

``RULES`` is the one table, read by every converter (``_converter``): each ``Rule`` says
which JSON values a field takes as they are, which it converts (an integer for a
``float``), and which it reads losslessly though they drifted from the published shape
(``"160"`` or ``160.0`` for an integer: the live server is PHP/Laravel). A drifted value is
a misfit on the fast path; where an answer is explained, it raises ``Drift``, which the
tolerant reader mends and notes, and the strict one reports as the misfit it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import attrs

__all__ = ["ABSENT", "RULES", "Drift", "Hook", "Rule", "json_type", "mismatch", "shown"]

Hook = Callable[[Any, Any], Any]


def json_type(value: object) -> str:
    """What a problem calls a JSON value's type: ``"a string"``, ``"null"``."""
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


def mismatch(expected: str, value: object) -> NoReturn:
    raise TypeError(f"expected {expected}, got {json_type(value)}")


def shown(value: object, limit: int = 40) -> str:
    """A JSON value as a note shows it: ``"160"``, ``1``, ``[]``, cut at ``limit``."""
    if value is ABSENT:
        return "missing"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""What a ``null`` reads as where a field can do without it: missing, so its default."""


class Drift(TypeError):
    """A value that does not fit as it is, but reads losslessly as ``read_as``.

    Raised only where answers are explained: read strictly, it is a misfit like any
    other, with the same message; read tolerantly, the answer is mended with ``read_as``
    in the value's place (``ABSENT``: the key is dropped) and the reading noted, as
    ``reading`` (what the note says it was read as).
    """

    def __init__(self, message: str, value: object, read_as: object, reading: str = "") -> None:
        super().__init__(message)
        self.value = value
        self.read_as = read_as
        self.reading = reading or shown(read_as)


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
        drifted: How a value the published shape does not allow is read, when it can be
            read without loss (``"32"`` for 32); it raises ``ValueError`` for one that
            cannot (``"26 days"``). Only the tolerant reader asks it, and notes each use.
    """

    expected: str
    takes: frozenset[type]
    converts: frozenset[type] = frozenset()
    convert: Callable[[Any], Any] | None = None
    drifted: Callable[[Any], Any] | None = None

    def hook(self, tp: type[Any], *, optional: bool, explaining: bool = False) -> Hook:
        """The structuring function for a field of type ``tp`` (``tp | None`` if optional).

        One call per value, whatever the rule: the types taken are checked in one step.
        ``explaining`` (the detailed converter's) raises ``Drift`` for a value ``drifted``
        reads.
        """
        takes = (self.takes | {type(None)}) if optional else self.takes
        expected, converts, convert = self.expected, self.converts, self.convert or tp
        drifted = self.drifted if explaining else None

        def structure_scalar(value: Any, _: Any) -> Any:
            if type(value) in takes:
                return value
            if type(value) in converts:
                try:
                    return convert(value)
                except (ValueError, TypeError, OverflowError):
                    raise TypeError(
                        f"expected {expected}, got {json_type(value)} that is not one"
                    ) from None
            if drifted is not None and value is not None:
                try:
                    read = drifted(value)
                except (ValueError, TypeError, OverflowError):
                    pass
                else:
                    raise Drift(f"expected {expected}, got {json_type(value)}", value, read)
            mismatch(expected, value)

        return structure_scalar


# -- what drifted values read as ---------------------------------------------------------------

# A whole number as PHP writes one: digits, or a DECIMAL column's digits with a zero
# fraction ("160.00"). ASCII digits only, and no sign but a minus, no spaces.
_INTEGER = re.compile(r"-?[0-9]+(?:\.0+)?")


def _integer(value: object) -> int:
    """``4.0``, ``"32"``, ``"160.00"``: a whole number; ``3.2``, ``"80.5"``: no."""
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and _INTEGER.fullmatch(value):
        return int(value.partition(".")[0])
    raise ValueError(value)


_FLAGS: Mapping[object, bool] = MappingProxyType(
    {0: False, 1: True, "0": False, "1": True, "false": False, "true": True}
)


def _flag(value: object) -> bool:
    """``0``/``1``, ``"0"``/``"1"``, ``"false"``/``"true"``: a boolean; ``2``: no."""
    if type(value) in (int, str) and value in _FLAGS:
        return _FLAGS[value]
    raise ValueError(value)


def _text(value: object) -> str:
    """An integer where text belongs (ids and mailboxes sent as numbers): its digits."""
    if type(value) is int:
        return str(value)
    raise ValueError(value)


RULES: Mapping[type, Rule] = MappingProxyType(
    {
        str: Rule("a string", frozenset({str}), drifted=_text),
        int: Rule("an integer", frozenset({int}), drifted=_integer),
        float: Rule("a number", frozenset({float}), converts=frozenset({int})),
        bool: Rule("a boolean", frozenset({bool}), drifted=_flag),
    }
)
"""The one table of type rules: for each scalar type a field may have, what fills it.

Every converter reads it, and so every model and every endpoint; a new field type, or a
new way of reading one, is one entry here.
"""
