"""The checks that a command can write where it was told to, made before any request.

A path that cannot be used is a usage error (exit status 2) naming its option, so that a
long export or harvest never fails at its end for a reason known at its start.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

__all__ = ["check_directory", "check_file", "check_harvest", "check_voicemail_dest"]


def check_directory(path: Path, *option: str) -> None:
    """``path`` must be a directory files can be saved into (created when missing)."""
    _usable(path, _directory_problem, option)


def check_file(path: Path, *option: str) -> None:
    """``path`` must be writable as a file (a temporary file beside it, then renamed)."""
    _usable(path, _file_problem, option)


def check_harvest(dest: Path, export: Path, recordings: Path) -> None:
    """harvest's --dest: the directory, and the export and recordings inside it."""
    check_directory(dest, "--dest")
    if dest.is_dir():
        check_file(export, "--dest")
        check_directory(recordings, "--dest")


def check_voicemail_dest(dest: str) -> None:
    """voicemail download's --dest: a directory when it ends in / or is one, else a file."""
    target = Path(dest)
    if dest.endswith(("/", os.sep)) or target.is_dir():
        check_directory(target, "--dest")
    else:
        check_file(target, "--dest")


def _usable(path: Path, problem: Callable[[Path], str | None], option: tuple[str, ...]) -> None:
    reason = problem(path)
    if reason is not None:
        raise click.BadParameter(
            f"cannot write to {str(path)!r}: {reason}", param_hint=list(option)
        )


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def _not_a_directory(path: Path, found: Path) -> str:
    what = "it" if found == path else repr(str(found))
    kind = "a file, not a directory" if found.is_file() else "not a directory"
    return f"{what} is {kind}"


def _directory_problem(path: Path) -> str | None:
    found = _nearest_existing(path)
    if not found.is_dir():
        return _not_a_directory(path, found)
    if not os.access(found, os.W_OK | os.X_OK):
        return "permission denied"
    return None


def _file_problem(path: Path) -> str | None:
    if path.is_dir():
        return "it is a directory"
    if path.exists() and not path.is_file():
        # A pipe or a device is written in place.
        return None if os.access(path, os.W_OK) else "permission denied"
    found = _nearest_existing(path.parent)
    if not found.is_dir():
        return _not_a_directory(path, found)
    if found != path.parent:
        return f"the directory {str(path.parent)!r} does not exist"
    if not os.access(found, os.W_OK | os.X_OK):
        return "permission denied"
    return None
