"""``voipano``: the command line for the Voipano webservice (extra ``voipano-async[cli]``)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run the ``voipano`` command."""
    try:
        from ._app import main as run
    except ImportError as exc:  # click or rich missing
        print(
            f"voipano needs the cli extra ({exc.name} is missing): "
            'pip install "voipano-async[cli]"',
            file=sys.stderr,
        )
        sys.exit(2)
    run()
