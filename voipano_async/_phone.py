"""Iranian phone numbers: normalising what users type, and masking what we log."""

from __future__ import annotations

import re

from ._exceptions import InvalidPhoneNumberError

__all__ = ["mask_phone_number", "mask_phone_numbers", "normalize_phone_number"]

# Persian (U+06F0..U+06F9) and Arabic-Indic (U+0660..U+0669) digits to ASCII.
_DIGITS = {cp: ord("0") + i for i in range(10) for cp in (0x06F0 + i, 0x0660 + i)}
# What people put between digits: white space of every kind, the zero-width joiners that
# Persian keyboards insert, dashes of every width, dots, slashes and brackets.
_SEPARATORS = re.compile(r"[\s\u200b-\u200f\u2060\ufeff()\[\]{}.\-/\u2010-\u2015\u2212]+")
_VALID = re.compile(r"0[0-9]{10}")
# An 11-digit number, or one with a +98, 0098 or 98 prefix, in ASCII digits (see below).
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+98|0098|98|0)[0-9]{4}([0-9]{3})[0-9]{3}(?![0-9])")


def normalize_phone_number(value: str) -> str:
    """Return ``value`` as the 11-digit, ``0``-prefixed number the API expects.

    Persian (۰-۹) and Arabic-Indic (٠-٩) digits become ASCII; ``+98``, ``0098`` and a bare
    ``98`` country prefix become a leading ``0``; spaces, dashes, dots and brackets go.

    Raises:
        InvalidPhoneNumberError: (a ``ValueError``) when the result is not 11 digits
            starting with ``0``.

    Examples:
        >>> normalize_phone_number("+98 (912) 345-6789")
        '09123456789'
        >>> normalize_phone_number("۰۹۱۲۳۴۵۶۷۸۹")
        '09123456789'
    """
    if not isinstance(value, str):
        raise InvalidPhoneNumberError(
            f"a phone number must be a str, not {type(value).__name__}", phone_number=value
        )
    number = _SEPARATORS.sub("", value.translate(_DIGITS))
    if number.startswith("+98"):
        number = "0" + number[3:]
    elif number.startswith("0098"):
        number = "0" + number[4:]
    elif number.startswith("98") and len(number) == 12:
        number = "0" + number[2:]
    if not _VALID.fullmatch(number):
        raise InvalidPhoneNumberError(
            f"{value!r} is not an Iranian phone number: expected 11 digits starting with 0, "
            "such as 09123456789 or 02191010001",
            phone_number=value,
        )
    return number


def mask_phone_number(number: str) -> str:
    """Mask a phone number the way the vendor does: ``09123456789`` -> ``09123***789``."""
    if len(number) < 9:
        return "***"
    return f"{number[:5]}***{number[-3:]}"


def mask_phone_numbers(text: str) -> str:
    """Mask every 11-digit ``0``-prefixed number inside ``text`` (for log records)."""
    # Matched on an ASCII copy: one character for one, so its positions are the text's.
    parts: list[str] = []
    end = 0
    for match in _PHONE_IN_TEXT.finditer(text.translate(_DIGITS)):
        parts += (text[end : match.start(1)], "***")
        end = match.end(1)
    return "".join(parts) + text[end:] if parts else text
