"""Reading what did not fit: the explaining converter's findings, walked, told and mended.

The explaining converter raises one tree of errors for an answer that does not fit (cattrs'
``ClassValidationError``/``IterableValidationError``, each error noted with its field or
index and type). Here that tree is walked into its leaves, each with its place in the
JSON: told as a problem (``"expected an integer, got a string @ $.data.total"``), or, for
the tolerant reader, mended in a copy of the answer and told as a note
(``"$.billing.charged: "160" read as 160"``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import UnionType
from typing import Any, Union, get_args, get_origin

from ._rules import ABSENT, Drift, shown

__all__ = ["Leaf", "describe", "leaves", "mend", "place", "problem"]

Step = str | int
# A leaf error: its place as steps from the root, the declared type at each step, the error.
Leaf = tuple[tuple[Step, ...], tuple[Any, ...], BaseException]


def leaves(
    error: BaseException, path: tuple[Step, ...] = (), types: tuple[Any, ...] = ()
) -> Iterator[Leaf]:
    """Every error in the tree under ``error``, with its place and the types on the way."""
    from cattrs.errors import ClassValidationError, IterableValidationError

    rest: list[Exception]
    if isinstance(error, IterableValidationError):
        items, rest = error.group_exceptions()
        for inner, item in items:
            yield from leaves(inner, (*path, item.index), (*types, item.type))
    elif isinstance(error, ClassValidationError):
        fields, rest = error.group_exceptions()
        for inner, field in fields:
            yield from leaves(inner, (*path, field.name), (*types, field.type))
    else:
        yield path, types, error
        return
    for inner in rest:
        yield path, types, inner


def place(path: Sequence[Step], root: str = "$") -> str:
    """``$.data.items[3].id``: a place as problems and notes write it."""
    return root + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


def describe(error: BaseException, tp: Any) -> str:
    """What an error says of the value: ours as they are, cattrs' in its own words."""
    from cattrs.v import format_exception

    if isinstance(error, TypeError) and str(error).startswith("expected "):
        return str(error)
    return format_exception(error, tp)


def problem(leaf: Leaf, root: str = "$") -> str:
    path, types, error = leaf
    return f"{describe(error, types[-1] if types else None)} @ {place(path, root)}"


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (Union, UnionType) and type(None) in get_args(tp)


def _at(document: Any, path: Sequence[Step]) -> Any:
    for step in path:
        document = document[step]
    return document


def _set(document: Any, path: Sequence[Step], value: object) -> None:
    parent = _at(document, path[:-1])
    if value is ABSENT:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def mend(document: Any, leaf: Leaf, nullable: Sequence[tuple[Step, ...]] = ()) -> str | None:
    """Mend ``document`` (a copy of the answer) at ``leaf``; the note, or ``None``.

    A ``Drift`` is read as what it reads as. Any other misfit under one of the
    ``nullable`` places (a placed call's ``data``) empties the nearest field around it
    that may be null. Anything else is left: a problem, not drift.
    """
    path, types, error = leaf
    if not path:
        return None
    if isinstance(error, Drift):
        _set(document, path, error.read_as)
        return f"{place(path)}: {shown(error.value)} read as {error.reading}"
    for prefix in nullable:
        if tuple(path[: len(prefix)]) != tuple(prefix):
            continue
        for end in range(len(path), len(prefix), -1):
            if _is_optional(types[end - 1]):
                try:
                    was = f"{shown(_at(document, path[:end]))} unreadable"
                except (KeyError, IndexError, TypeError):
                    was = "missing"
                _set(document, path[:end], None)
                return f"{place(path[:end])}: {was}, read as null"
    return None
