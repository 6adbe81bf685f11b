"""Options that several ``voipano`` commands take, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from voipano_async._config import DEFAULT_CONCURRENCY, SANDBOX_DIALECTS

__all__ = ["concurrency_option", "dest_option", "dialect_option", "resumes_option"]

F = TypeVar("F", bound=Callable[..., object])


def dest_option(default: str, text: str) -> Callable[[F], F]:
    return click.option(
        "--dest",
        type=click.Path(path_type=Path),
        metavar="DIRECTORY",
        default=Path(default),
        show_default=True,
        help=text,
    )


def concurrency_option(text: str) -> Callable[[F], F]:
    """``--concurrency``: one default for every walk (the pager's own)."""
    return click.option(
        "--concurrency",
        type=click.IntRange(min=1),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help=text,
    )


resumes_option = click.option(
    "--resumes",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="How many times in all the walk resumes, from the first page not yet written, "
    "after a page failed on the network, a 429, a 5xx or came cut off (its retries used "
    "up); 0: never.",
)


def dialect_option(name: str, what: str) -> Callable[[F], F]:
    """A sandbox's dialect: the vendor's samples, or a PHP server's drift from them."""
    return click.option(
        name,
        type=click.Choice(SANDBOX_DIALECTS),
        default="published",
        show_default=True,
        help=f"{what}: as the vendor's samples, or as a PHP/Laravel server drifts from them, "
        "without loss (numbers as strings, 0/1 booleans, [] for empty objects).",
    )
