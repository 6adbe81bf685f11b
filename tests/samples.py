"""The vendor's published sample answers, exactly as published (the API page, kept beside
this repository as ``shared/voipano-api.md``).

``ENDPOINTS`` says, for each endpoint answering JSON, how to call it and what its answer
decodes to. The tests that hold for every endpoint (the answer fits its model, metadata,
spans, fuzzed answers, the sandbox through both clients) take their cases from it, and a
test fails when a method of the client has no row.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import attrs

from voipano_async import (
    Answer,
    AsyncVoipano,
    CallOtpResult,
    CallReportsPage,
    CallResult,
    ServiceList,
    VoicemailInboxes,
)

CALL_OTP: dict[str, Any] = {
    "ok": True,
    "data": {
        "request_id": "3dfd4fd4-5a2e-42a7-8f51-944fe18ca81a",
        "phone_number": "09123***789",
        "purpose": "login",
        "message": "کد تایید ارسال شد.",
    },
    "billing": {"charged": 160, "unit_price": 160, "remaining_credit": 9840},
}

CLICK_TO_CALL: dict[str, Any] = {
    "ok": True,
    "data": {
        "request_id": "7c8f3dd6-18c7-4e34-94bf-009d019f1d58",
        "endpoint_number": "02191010001",
        "status": "accepted",
        "provider": {"success": True, "status": 201},
    },
    "billing": {"charged": 80, "unit_price": 80, "remaining_credit": 9920},
}

SECURE_CALL: dict[str, Any] = {
    "ok": True,
    "data": {
        "request_id": "6319a18f-6e51-4e0f-927b-44e1c7fa0eb1",
        "endpoint_number": "02191010001",
        "status": "accepted",
    },
    "billing": {"charged": 120, "unit_price": 120, "remaining_credit": 9880},
}

CALL_REPORTS: dict[str, Any] = {
    "ok": True,
    "data": {
        "endpoint_number": "02191010001",
        "items": [
            {
                "id": "67bc8ea2f8f8a7d1287995f1",
                "call_details_record_id": "67bc8ea2f8f8a7d1287995f1",
                "call_source": "09123***789",
                "call_destination": "09129***543",
                "has_recording": True,
                "recording_url": "https://example.com/api/v1/webservice/call-recordings/"
                "67bc8ea2f8f8a7d1287995f1?call_details_record_id=67bc8ea2f8f8a7d1287995f1",
            }
        ],
        "pagination": {"page": 1, "per_page": 10, "total": 32, "last_page": 4},
    },
    "billing": {"charged": 0, "unit_price": 0},
}

SERVICES: dict[str, Any] = {
    "ok": True,
    "data": {
        "items": [
            {
                "subscription_id": 12,
                "status": "active",
                "remaining_days": 26,
                "package": {"id": 2, "name": "پلن پیوند", "slug": "peyvand"},
                "phone_number": "002191010001",
            }
        ],
        "total": 1,
    },
    "billing": {"charged": 0, "unit_price": 0},
}

VOICEMAIL_INBOXES: dict[str, Any] = {
    "ok": True,
    "data": {
        "items": [
            {
                "id": "67bc8f2df8f8a7d12879960f",
                "mailbox": "1001",
                "context": "voicemail-02191010001",
                "fullname": "Ali",
            }
        ],
        "allowed_contexts": ["voicemail-02191010001", "voicemail-user-15"],
    },
    "billing": {"charged": 0, "unit_price": 0},
}

RECORDING_HEADERS = {
    "Content-Type": "audio/wav",
    "Content-Disposition": 'attachment; filename="recording-67bc8ea2f8f8a7d1287995f1.wav"',
    "X-Billing-Charged": "0",
}

VOICEMAIL_HEADERS = {
    "Content-Type": "audio/wav",
    "Content-Disposition": 'attachment; filename="voicemail-1739558127.155.wav"',
    "X-Billing-Charged": "0",
}


def report(n: int, *, has_recording: bool = True) -> dict[str, Any]:
    """A call report shaped like the published one, numbered ``n``."""
    rid = f"r{n:06d}"
    return {
        "id": rid,
        "call_details_record_id": f"cdr{n:06d}",
        "call_source": "09123***789",
        "call_destination": "09129***543",
        "has_recording": has_recording,
        "recording_url": None,
    }


def reports_page(ids: list[int], *, page: int, per_page: int, total: int) -> dict[str, Any]:
    """A call-reports answer holding the reports numbered ``ids``."""
    return {
        "ok": True,
        "data": {
            "endpoint_number": "02191010001",
            "items": [report(n) for n in ids],
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "last_page": max(1, -(-total // per_page)),
            },
        },
        "billing": {"charged": 0, "unit_price": 0},
    }


@attrs.frozen
class Endpoint:
    """One endpoint answering JSON: its client method, route, published answer and model."""

    name: str
    method: str
    path: str
    answer: dict[str, Any]
    result: type[Answer]
    args: tuple[str, ...] = ()

    @property
    def charged(self) -> bool:
        return bool(self.answer["billing"]["charged"])

    def call(self, client: Any) -> Any:
        """Call it: a coroutine from an ``AsyncVoipano``, the result from a ``Voipano``."""
        return getattr(client, self.name)(*self.args)


ENDPOINTS = [
    Endpoint("call_otp", "POST", "/call-otp", CALL_OTP, CallOtpResult, ("09123456789",)),
    Endpoint(
        "click_to_call",
        "POST",
        "/click-to-call",
        CLICK_TO_CALL,
        CallResult,
        ("09123456789", "09129876543"),
    ),
    Endpoint(
        "secure_call",
        "POST",
        "/secure-call",
        SECURE_CALL,
        CallResult,
        ("09123456789", "09129876543"),
    ),
    Endpoint("call_reports_page", "GET", "/call-reports", CALL_REPORTS, CallReportsPage),
    Endpoint("services", "GET", "/services", SERVICES, ServiceList),
    Endpoint(
        "voicemail_inboxes", "GET", "/voicemail-inboxes", VOICEMAIL_INBOXES, VoicemailInboxes
    ),
]


def methods() -> dict[str, Any]:
    """``AsyncVoipano``'s endpoint methods, each with the type it returns.

    The public methods of the classes it mixes in, as ``scripts/blocking_client.py`` counts
    them; its own (``with_options``, ``aclose``) are not endpoints.
    """
    return {
        name: typing.get_type_hints(method)["return"]
        for name, method in inspect.getmembers(AsyncVoipano, inspect.isfunction)
        if not name.startswith("_") and name not in vars(AsyncVoipano)
    }
