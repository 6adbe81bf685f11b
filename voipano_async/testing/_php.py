"""The sandbox's PHP dialect: its answers as a PHP/Laravel server drifts from its samples.

The vendor's server is PHP/Laravel, and such servers send what their samples show in
their own way. In this dialect the sandbox does so too, losslessly (a client reading
tolerantly gets the very same values), in the ways PHP APIs are known for:

- numbers as strings: ``page`` and ``per_page`` echoed from the query string (``"1"``),
  ids cast by PDO (``"12"``), charges from a DECIMAL column (``"160.00"``);
- booleans as a TINYINT: ``has_recording: 1``, ``success: 1``;
- page counts from ``ceil()``: ``last_page: 4.0``; day counts as floats;
- ids sent as numbers: ``mailbox: 1001``;
- ``json_encode([])``: an empty object as ``[]`` (a free read's ``billing``, a service
  without a package), an empty list as ``{}``;
- Symfony's download headers: ``filename=`` an ASCII stand-in, the real name in
  ``filename*``, and ``X-Billing-Charged: 0.00``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from voipano_async._config import SANDBOX_DIALECTS

__all__ = ["DIALECTS", "php_answer", "php_audio_headers"]

DIALECTS = SANDBOX_DIALECTS

# What each key becomes, wherever it stands in an answer.
_AS_STRING = frozenset({"page", "per_page", "subscription_id", "unit_price", "total"})
_AS_DECIMAL = frozenset({"charged", "remaining_credit"})
_AS_FLOAT = frozenset({"last_page", "remaining_days"})
_AS_TINYINT = frozenset({"has_recording", "success"})
_AS_NUMBER = frozenset({"mailbox"})
_EMPTY_AS_ARRAY = frozenset({"package", "provider"})


def _value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return _object(value)
    if isinstance(value, list):
        return [_value("", item) for item in value] if value else {}
    if value is None:
        return [] if key in _EMPTY_AS_ARRAY else None
    if isinstance(value, bool):
        return int(value) if key in _AS_TINYINT else value
    if isinstance(value, int):
        if key in _AS_DECIMAL:
            return f"{value}.00"
        if key in _AS_STRING:
            return str(value)
        if key in _AS_FLOAT:
            return float(value)
    # Digits with no leading zero (which a number would lose) go as the number.
    if isinstance(value, str) and key in _AS_NUMBER and value.isascii() and value.isdecimal():
        return value if value.startswith("0") else int(value)
    return value


def _object(value: dict[str, Any]) -> dict[str, Any]:
    return {key: _value(key, item) for key, item in value.items()}


def php_answer(answer: dict[str, Any]) -> Any:
    """A JSON answer as the PHP server sends it; a free read's billing is ``[]``."""
    if answer.get("ok") is not True:
        return answer
    spoken = _object(answer)
    billing = answer.get("billing")
    if isinstance(billing, dict) and billing.get("charged") == 0 and len(billing) == 2:
        spoken["billing"] = []  # nothing charged: the empty array of a free read
    return spoken


def php_audio_headers(filename: str) -> dict[str, str]:
    """A download's headers as Symfony's ``HeaderUtils::makeDisposition`` writes them."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return {
        "Content-Type": "audio/wav",
        "Content-Disposition": (
            f"attachment; filename={fallback}; filename*=utf-8''{quote(filename, safe='')}"
        ),
        "X-Billing-Charged": "0.00",
    }
