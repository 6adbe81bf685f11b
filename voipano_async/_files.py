"""The one atomic-write idiom: write beside the target, rename into place when complete.

Downloads and the command line's exports both use it, so a failed, cancelled or killed
write never leaves a truncated file under the final name.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

__all__ = [
    "PARTIAL_SUFFIX",
    "commit_partial",
    "discard_partial",
    "partial_path",
    "remove_partials",
]

PARTIAL_SUFFIX = ".part"


def partial_path(target: Path) -> Path:
    """A fresh temporary name beside ``target``: ``.NAME.XXXXXXXX.part`` (15 bytes more)."""
    import secrets  # here, not at import: it loads hashlib and hmac, which nothing else needs

    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def commit_partial(partial: Path, target: Path) -> None:
    """Move a complete temporary file into place, replacing ``target``."""
    os.replace(partial, target)


def discard_partial(file: IO[Any], partial: Path) -> None:
    """Close and remove a temporary file after a failed write, whatever the close does.

    On a full disk (``ENOSPC``, ``EFBIG``) closing fails too, flushing what is still
    buffered: the file is removed all the same, and the error that stopped the write is
    the one the caller sees. Synchronous, so that a cancellation cannot interrupt it.
    """
    try:
        with contextlib.suppress(OSError):
            file.close()
    finally:
        partial.unlink(missing_ok=True)


def remove_partials(directory: Path, name: str = "*") -> int:
    """Remove what writes killed outright (SIGKILL, power loss) left in ``directory``.

    ``name`` narrows it to the temporary files of one target name (a glob pattern).
    Returns how many were removed.
    """
    removed = 0
    for stale in directory.glob(f".{name}.*{PARTIAL_SUFFIX}"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed
