"""Write the blocking client's endpoint lines, one per ``AsyncVoipano`` endpoint method.

``Voipano`` (``voipano_async/_voipano.py``) makes each endpoint method from the
``AsyncVoipano`` method of the same name, in one line that type checkers need to see
written out: ``call_otp: Final = blocking(AsyncVoipano.call_otp)``. This script writes
those lines between the two marker comments, grouped by the class that defines the
endpoints, in its order, so that a new, renamed or removed endpoint is followed by running:

    python scripts/blocking_client.py           # or: nox -s generate
    python scripts/blocking_client.py --check   # exit 1, with a diff, if out of date

The test suite runs the check (``tests/test_sync.py``), as httpcore checks its unasync output.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "voipano_async" / "_voipano.py"
BEGIN = "    # Made by scripts/blocking_client.py from AsyncVoipano's endpoints; do not edit.\n"
END = "    # End of the made lines.\n"


def made_lines() -> str:
    """One line per public method of the classes ``AsyncVoipano`` takes its endpoints from."""
    from voipano_async import AsyncVoipano

    groups = []
    for cls in AsyncVoipano.__mro__[1:]:
        names = [n for n, v in vars(cls).items() if inspect.isfunction(v) and n[0] != "_"]
        if names:
            lines = [f"    {n}: Final = blocking(AsyncVoipano.{n})\n" for n in names]
            groups.append(f"    # {cls.__name__} ({cls.__module__}).\n" + "".join(lines))
    return "\n".join(groups)


def render(source: str) -> str:
    """``source`` (the text of ``_voipano.py``) with the made lines as they should be."""
    head, found, rest = source.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"{TARGET}: the marker comments are missing:\n{BEGIN}{END}")
    return f"{head}{BEGIN}{made_lines()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    check = parser.parse_args(argv).check
    # This checkout's package, not whichever one is installed (another clone's, editable).
    sys.path.insert(0, str(ROOT))
    source = TARGET.read_text(encoding="utf-8")
    wanted = render(source)
    if wanted == source:
        return 0
    if check:
        diff = difflib.unified_diff(
            source.splitlines(keepends=True), wanted.splitlines(keepends=True), "now", "wanted"
        )
        print(f"{TARGET} is out of date; run: python scripts/blocking_client.py\n")
        sys.stdout.writelines(diff)
        return 1
    TARGET.write_text(wanted, encoding="utf-8")
    print(f"rewrote the made lines of {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
