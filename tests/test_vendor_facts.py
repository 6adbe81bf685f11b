"""The SDK and the sandbox agree on the vendor's facts, each read off the API page on its own.

The sandbox keeps its facts (prices, masking, the API prefix) apart from the SDK's, so a
wrong fact in the SDK fails here instead of being copied into the emulator it is tested
against.
"""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voipano_async import AsyncVoipano, mask_phone_number, normalize_phone_number
from voipano_async._config import PUBLISHED_PRICES
from voipano_async.testing import VoipanoSandbox, _vendor

# How people write the numbers the vendor receives: mobiles and landlines, with Persian
# and Arabic-Indic digits, +98, 0098 and bare 98 prefixes, spaces and dashes.
WRITTEN_NUMBERS = [
    "09123456789",
    "۰۹۱۲۳۴۵۶۷۸۹",
    "٠٩١٢٩٨٧٦٥٤٣",
    "+98 912 345 6789",
    "+989351112233",
    "00989123456789",
    "0098 21 9101 0001",
    "989901234567",
    "02191010001",
    "۰۲۱-۹۱۰۱-۰۰۰۱",
    "+98 (21) 8800 1234",
    "03133445566",
]


def test_the_sdk_charges_the_prices_the_vendor_publishes() -> None:
    assert dict(_vendor.PRICES) == PUBLISHED_PRICES
    assert VoipanoSandbox().prices == dict(_vendor.PRICES)


@pytest.mark.parametrize("written", WRITTEN_NUMBERS)
def test_the_sdk_masks_a_number_as_the_vendor_does(written: str) -> None:
    number = normalize_phone_number(written)
    assert mask_phone_number(number) == _vendor.mask(number)


@given(st.from_regex(r"0[0-9]{10}", fullmatch=True))
def test_every_full_number_is_masked_alike(number: str) -> None:
    assert mask_phone_number(number) == _vendor.mask(number)


@pytest.mark.anyio
@pytest.mark.parametrize("written", WRITTEN_NUMBERS)
async def test_the_vendors_masked_answer_is_what_the_sdk_would_log(written: str) -> None:
    sandbox = VoipanoSandbox()
    async with sandbox.client() as client:
        otp = await client.call_otp(written)
    [sent] = sandbox.requests
    assert sent.json["phone_number"] == normalize_phone_number(written)
    assert otp.phone_number == mask_phone_number(normalize_phone_number(written))


@pytest.mark.anyio
async def test_the_sdk_talks_to_the_vendors_api_path() -> None:
    async with AsyncVoipano("token-0123456789") as client:
        default = httpx2.URL(client.base_url)
    assert default.path.rstrip("/").endswith(_vendor.API_PREFIX)
    assert str(default).rstrip("/") == _vendor.BASE_URL
    async with VoipanoSandbox().client() as client:
        assert httpx2.URL(client.base_url).path.rstrip("/") == _vendor.API_PREFIX
