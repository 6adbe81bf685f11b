"""Phone numbers: what users type becomes what the API expects, or a clear error."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipano_async import InvalidPhoneNumberError, mask_phone_number, normalize_phone_number
from voipano_async._phone import mask_phone_numbers

VALID = re.compile(r"0[0-9]{10}")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("09123456789", "09123456789"),
        ("+989123456789", "09123456789"),
        ("00989123456789", "09123456789"),
        ("989123456789", "09123456789"),
        ("+98 912 345 6789", "09123456789"),
        ("+98 (912) 345-6789", "09123456789"),
        ("0912-345-6789", "09123456789"),
        ("[0912] 345 67 89", "09123456789"),
        ("۰۹۱۲۳۴۵۶۷۸۹", "09123456789"),
        ("٠٩١٢٣٤٥٦٧٨٩", "09123456789"),
        ("+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹", "09123456789"),
        ("۰۹۱۲\u200c۳۴۵\u00a0۶۷۸۹", "09123456789"),
        ("021-9101-0001", "02191010001"),
        ("  02191010001\n", "02191010001"),
        ("0912.345.6789", "09123456789"),
        ("0912–345–6789", "09123456789"),
    ],
)
def test_normalises(typed: str, expected: str) -> None:
    assert normalize_phone_number(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "12345",
        "9123456789",
        "091234567890",
        "0912345678",
        "+1 555 010 0123",
        "+98912345678",
        "0912345678a",
        "09123*45678",
        "0912 345 6789 ext 2",
        "٠٩١٢٣٤٥٦٧٨",
        "+",
        "٩٨٩١٢٣٤٥٦٧٨٩٩٩",
        "09123456789\x00",
        "０９１２３４５６７８９",  # full-width digits are not accepted silently
    ],
)
def test_rejects(typed: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as info:
        normalize_phone_number(typed)
    assert info.value.phone_number == typed
    assert "11 digits" in str(info.value)


@pytest.mark.parametrize("value", [9123456789, None, b"09123456789"])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidPhoneNumberError, match="must be a str"):
        normalize_phone_number(value)  # type: ignore[arg-type]


@given(st.text())
def test_any_text_normalises_to_eleven_digits_or_raises(text: str) -> None:
    try:
        number = normalize_phone_number(text)
    except InvalidPhoneNumberError:
        return
    assert VALID.fullmatch(number)
    assert normalize_phone_number(number) == number


PERSIAN = "۰۱۲۳۴۵۶۷۸۹"
ARABIC = "٠١٢٣٤٥٦٧٨٩"


@given(
    st.from_regex(r"9[0-9]{9}", fullmatch=True),
    st.sampled_from(["0", "+98", "0098", "98", "+98 ", "0098-"]),
    st.sampled_from(["ascii", "persian", "arabic"]),
    st.lists(st.sampled_from([" ", "-", "(", ")", "\u200c", "\u00a0"]), max_size=3),
)
def test_every_written_form_of_a_mobile_number_normalises(
    subscriber: str, prefix: str, digits: str, noise: list[str]
) -> None:
    written = prefix + subscriber[:3] + "".join(noise) + subscriber[3:]
    if digits != "ascii":
        table = PERSIAN if digits == "persian" else ARABIC
        written = written.translate({ord(str(i)): table[i] for i in range(10)})
    assert normalize_phone_number(written) == "0" + subscriber


def test_mask_like_the_vendor() -> None:
    assert mask_phone_number("09123456789") == "09123***789"
    assert mask_phone_number("123") == "***"
    assert (
        mask_phone_numbers("call 09123456789 to 02191010001 ref 123456789012")
        == "call 09123***789 to 02191***001 ref 123456789012"
    )


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to +989123456789.", "to +989123***789."),
        ("to 00989123456789,", "to 00989123***789,"),
        ("to 989123456789", "to 989123***789"),
        ("به ۰۹۱۲۳۴۵۶۷۸۹ زنگ", "به ۰۹۱۲۳***۷۸۹ زنگ"),
        ("ids 12345678901234 and 0912345678", "ids 12345678901234 and 0912345678"),
    ],
)
def test_logs_and_spans_mask_every_written_form(text: str, masked: str) -> None:
    assert mask_phone_numbers(text) == masked
