"""The sandbox's seeded data: services, inboxes, voicemail, call reports, and WAV audio."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import math
import random
import uuid
import wave
from array import array
from typing import Any

import attrs

from ._vendor import ALLOWED_CONTEXTS, ENDPOINT_NUMBER, SAMPLE_CDR_ID, SAMPLE_VOICEMAIL_ID, mask

__all__ = [
    "VoicemailMessage",
    "make_inboxes",
    "make_report",
    "make_reports",
    "make_services",
    "make_voicemail",
    "new_id",
    "new_report_id",
    "new_request_id",
    "tone_wav",
]

_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_DISPOSITIONS = ["ANSWERED", "ANSWERED", "ANSWERED", "NO ANSWER", "BUSY", "FAILED"]


@attrs.frozen
class VoicemailMessage:
    """A voicemail message the sandbox can serve."""

    unique_id: str
    context: str
    mailbox: str


def new_id(rng: random.Random) -> str:
    """A 24-hex-digit id, shaped like the published ones."""
    return f"{rng.getrandbits(96):024x}"


def new_report_id(rng: random.Random, started: dt.datetime) -> str:
    """A call report's id as the API's are: a MongoDB ObjectId, whose first 8 hex digits
    are the seconds of its creation, so that ids grow with time."""
    # 96 bits drawn, as for any id, so that the rest of a seeded sandbox stays as it was.
    return f"{int(started.timestamp()):08x}{rng.getrandbits(96) & (1 << 64) - 1:016x}"


def new_request_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _mobile(rng: random.Random) -> str:
    return f"09{rng.choice('0123459')}{rng.randrange(10**8):08d}"


def make_services() -> list[dict[str, Any]]:
    return [
        {
            "subscription_id": 12,
            "status": "active",
            "remaining_days": 26,
            "package": {"id": 2, "name": "پلن پیوند", "slug": "peyvand"},
            "phone_number": "002191010001",
        },
        {
            "subscription_id": 15,
            "status": "expired",
            "remaining_days": 0,
            "package": {"id": 1, "name": "پلن پایه", "slug": "payeh"},
            "phone_number": "002191010002",
        },
    ]


def make_inboxes(rng: random.Random) -> list[dict[str, Any]]:
    owners = [
        ("1001", ALLOWED_CONTEXTS[0], "Ali"),
        ("1002", ALLOWED_CONTEXTS[0], "سارا"),
        ("2001", ALLOWED_CONTEXTS[1], "Reza"),
    ]
    return [
        {"id": new_id(rng), "mailbox": mailbox, "context": context, "fullname": name}
        for mailbox, context, name in owners
    ]


def make_voicemail(rng: random.Random, inboxes: list[dict[str, Any]]) -> list[VoicemailMessage]:
    messages = []
    stamp = 1739558127
    for inbox in inboxes:
        for _ in range(2):
            stamp += rng.randrange(600, 90_000)
            messages.append(
                VoicemailMessage(
                    f"{stamp}.{rng.randrange(1, 999)}", inbox["context"], inbox["mailbox"]
                )
            )
    # The message of the vendor's published sample, so its examples work as printed.
    messages.append(VoicemailMessage(SAMPLE_VOICEMAIL_ID, ALLOWED_CONTEXTS[0], "1001"))
    return messages


def make_report(
    rng: random.Random,
    *,
    source: str,
    destination: str,
    has_recording: bool,
    started: dt.datetime,
    **extra: Any,
) -> dict[str, Any]:
    report_id = new_report_id(rng, started)
    return {
        "id": report_id,
        "call_details_record_id": report_id,
        "call_source": mask(source),
        "call_destination": mask(destination),
        "has_recording": has_recording,
        # The live API sends more than the published sample; the SDK keeps it in `extra`.
        "duration": rng.randrange(5, 600) if has_recording else 0,
        "disposition": "ANSWERED" if has_recording else rng.choice(_DISPOSITIONS[3:]),
        "started_at": started.isoformat().replace("+00:00", "Z"),
        **extra,
    }


def make_reports(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` call reports, newest first, about half of them with a recording."""
    reports = []
    started = _EPOCH
    for _ in range(count):
        started += dt.timedelta(seconds=rng.randrange(60, 7200))
        answered = rng.choice(_DISPOSITIONS) == "ANSWERED"
        source, destination = (
            (_mobile(rng), ENDPOINT_NUMBER)
            if rng.random() < 0.5
            else (ENDPOINT_NUMBER, _mobile(rng))
        )
        reports.append(
            make_report(
                rng,
                source=source,
                destination=destination,
                has_recording=answered,
                started=started,
            )
        )
    if reports:
        # The oldest call is the vendor's published sample, so its ids work as printed.
        reports[0] |= {
            "id": SAMPLE_CDR_ID,
            "call_details_record_id": SAMPLE_CDR_ID,
            "call_source": "09123***789",
            "call_destination": "09129***543",
            "has_recording": True,
            "disposition": "ANSWERED",
            "duration": reports[0]["duration"] or 42,
        }
    reports.reverse()
    return reports


@functools.lru_cache(maxsize=16)
def tone_wav(key: str, seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a pure tone whose pitch depends on ``key``: real, small audio."""
    digest = hashlib.sha256(key.encode()).digest()
    frequency = 300 + int.from_bytes(digest[:2], "big") % 600
    step = 2 * math.pi * frequency / rate
    # A whole number of hertz repeats exactly every second: compute one, repeat it.
    second = array("h", (int(12000 * math.sin(step * i)) for i in range(rate))).tobytes()
    whole, part = divmod(int(seconds * rate), rate)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(second * whole + second[: part * 2])
    return buffer.getvalue()
