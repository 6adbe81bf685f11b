"""The vendor's facts, as its API page publishes them: the sandbox's one source for them.

Everything here is read off the Voipano webservice page of sample requests, never off the
SDK: the sandbox is what the SDK is tested against, so a fact it borrowed from the SDK
could never catch the SDK getting that fact wrong. ``tests/test_vendor_facts.py`` checks
that the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "ALLOWED_CONTEXTS",
    "API_PREFIX",
    "BASE_URL",
    "ENDPOINT_NUMBER",
    "FREE",
    "OTP_SENT",
    "PHONE_NUMBER",
    "PRICES",
    "SAMPLE_CDR_ID",
    "SAMPLE_VOICEMAIL_ID",
    "audio_headers",
    "mask",
    "recording_filename",
    "voicemail_filename",
]

# "Base: https://voipano.com/api/v1/webservice"; every sample path sits below it.
API_PREFIX = "/api/v1/webservice"
BASE_URL = "https://voipano.com" + API_PREFIX

# The ``billing.charged`` of each charged endpoint's sample answer, in credit units.
PRICES: Mapping[str, int] = MappingProxyType(
    {"/call-otp": 160, "/click-to-call": 80, "/secure-call": 120}
)
# The billing of every read: nothing charged.
FREE: Mapping[str, int] = MappingProxyType({"charged": 0, "unit_price": 0})

# What a request carries: a full Iranian number, 11 digits from a leading 0
# ("09123456789", landlines such as "02191010001").
PHONE_NUMBER = re.compile(r"0[0-9]{10}")

# The number calls are placed from (``endpoint_number`` in the samples), the voicemail
# contexts the sample token may read, and the ids the samples use.
ENDPOINT_NUMBER = "02191010001"
ALLOWED_CONTEXTS = ("voicemail-02191010001", "voicemail-user-15")
SAMPLE_CDR_ID = "67bc8ea2f8f8a7d1287995f1"
SAMPLE_VOICEMAIL_ID = "1739558127.155"

# The ``message`` of the call-otp sample answer.
OTP_SENT = "کد تایید ارسال شد."


def mask(number: str) -> str:
    """Mask a number as the vendor's answers show it: ``09123456789`` -> ``09123***789``.

    The first five digits and the last three stay; ``***`` stands for the three between.
    The vendor masks the full numbers it was sent; anything too short to hide three digits
    of is shown as it is.
    """
    return f"{number[:5]}***{number[-3:]}" if len(number) >= 9 else number


def recording_filename(cdr_id: str) -> str:
    """The file name a call recording is served under: ``recording-<cdrId>.wav``."""
    return f"recording-{cdr_id}.wav"


def voicemail_filename(unique_id: str) -> str:
    """The file name a voicemail message is served under: ``voicemail-<uniqueId>.wav``."""
    return f"voicemail-{unique_id}.wav"


def audio_headers(filename: str) -> dict[str, str]:
    """The headers of a download: WAV audio, an attachment named ``filename``, free."""
    return {
        "Content-Type": "audio/wav",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Billing-Charged": "0",
    }
