"""The one atomic-write idiom: write beside the target, rename into place when complete.

Downloads and the command line's exports both use it, so a failed, cancelled or killed
write never leaves a truncated file under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PARTIAL_SUFFIX", "commit_partial", "partial_path", "remove_partials"]

PARTIAL_SUFFIX = ".part"


def partial_path(target: Path) -> Path:
    """A fresh temporary name beside ``target``: ``.NAME.XXXXXXXX.part`` (15 bytes more)."""
    import secrets  # here, not at import: it loads hashlib and hmac, which nothing else needs

    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def commit_partial(partial: Path, target: Path) -> None:
    """Move a complete temporary file into place, replacing ``target``."""
    os.replace(partial, target)


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
