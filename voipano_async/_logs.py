"""``VOIPANO_LOG``: the SDK's logging turned on from the environment, as ``OPENAI_LOG`` does.

Read once, when ``voipano_async`` is imported. ``info`` logs one line per attempt,
``debug`` the retry decisions too; both on stderr, on the ``voipano_async`` logger, with
the masking every SDK log line has (no token, phone numbers masked). Anything else is
ignored, with one warning saying so.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["ENV_HANDLER", "setup_from_env"]

# The name of the handler VOIPANO_LOG adds, so that no one adds a second (the CLI's -v).
ENV_HANDLER = "VOIPANO_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


def setup_from_env() -> None:
    value = os.environ.get("VOIPANO_LOG", "").strip()
    if not value:
        return
    logger = logging.getLogger("voipano_async")
    level = _LEVELS.get(value.lower())
    if level is None:
        logger.warning("VOIPANO_LOG=%r is not one of %s: ignored", value, ", ".join(_LEVELS))
        return
    if any(handler.get_name() == ENV_HANDLER for handler in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(ENV_HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
