"""The sandbox's endpoints: what each one checks, changes and answers.

Each handler names its route with ``@route(method, path)`` (a trailing ``/*`` takes one
path argument), takes the request's query, JSON body, API base and path argument, and
returns the answer (a JSON document, or audio and its file name) or raises
``Refusal`` with an error answer. Nothing here knows about the wire or faults.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from . import _data, _vendor
from ._data import VoicemailMessage
from ._vendor import ENDPOINT_NUMBER

__all__ = ["ROUTES", "Endpoints", "Refusal"]

# (method, path) -> the name of its handler on Endpoints, filled by @route.
ROUTES: dict[tuple[str, str], str] = {}

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def _utcnow() -> dt.datetime:
    """When a call placed now starts (whole seconds, UTC); tests may fix it."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def route(method: str, path: str) -> Callable[[_Handler], _Handler]:
    """Make the decorated method the handler of ``method path``."""

    def register(handler: _Handler) -> _Handler:
        ROUTES[method, path] = handler.__name__
        return handler

    return register


class Refusal(Exception):
    """Raised inside a handler to answer at once with an error."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


def _invalid(errors: dict[str, list[str]]) -> NoReturn:
    raise Refusal(422, {"message": "اطلاعات ارسال شده معتبر نیست.", "errors": errors})


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        _invalid({"body": ["بدنه درخواست باید یک شیء JSON باشد."]})
    return payload


def _phone_field(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:
        _invalid({field: [f"فیلد {field} الزامی است."]})
    if not isinstance(value, str) or not _vendor.PHONE_NUMBER.fullmatch(value):
        _invalid({field: ["شماره تلفن نامعتبر است."]})
    return value


def _int_param(
    query: dict[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
        _invalid({name: [f"مقدار {name} نامعتبر است."]})
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def _free(data: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "data": data, "billing": dict(_vendor.FREE)}


class Endpoints:
    """The endpoint handlers, over the state ``VoipanoSandbox`` keeps."""

    credit: int
    accounts: dict[str, int]
    token: str
    _account: str
    prices: dict[str, int]
    reports: list[dict[str, Any]]
    services: list[dict[str, Any]]
    inboxes: list[dict[str, Any]]
    allowed_contexts: list[str]
    voicemail_messages: list[VoicemailMessage]
    recording_seconds: float
    _rng: random.Random

    # -- charged calls ------------------------------------------------------------------

    def _charge(self, path: str) -> dict[str, int]:
        price = self.prices[path]
        main = self._account == self.token
        credit = self.credit if main else self.accounts[self._account]
        if credit < price:
            raise Refusal(
                402,
                {
                    "ok": False,
                    "error": {
                        "code": "insufficient_credit",
                        "message": "اعتبار حساب برای این درخواست کافی نیست.",
                    },
                },
            )
        credit -= price
        if main:
            self.credit = credit
        else:
            self.accounts[self._account] = credit
        return {"charged": price, "unit_price": price, "remaining_credit": credit}

    @route("POST", "/call-otp")
    def _call_otp(self, *, payload: Any, **_: Any) -> dict[str, Any]:
        body = _object(payload)
        phone = _phone_field(body, "phone_number")
        for field in ("purpose", "client_ref"):
            if field in body and not isinstance(body[field], str):
                _invalid({field: [f"فیلد {field} باید متن باشد."]})
        billing = self._charge("/call-otp")
        extra = {"client_ref": body["client_ref"]} if "client_ref" in body else {}
        self._placed(ENDPOINT_NUMBER, phone, has_recording=False, kind="otp", **extra)
        data = {
            "request_id": _data.new_request_id(self._rng),
            "phone_number": _vendor.mask(phone),
            "purpose": body.get("purpose"),
            "message": _vendor.OTP_SENT,
        }
        return {"ok": True, "data": data, "billing": billing}

    def _place_call(self, path: str, payload: Any, *, provider: bool) -> dict[str, Any]:
        body = _object(payload)
        errors: dict[str, list[str]] = {}
        numbers = {}
        for field in ("call_source", "call_destination"):
            try:
                numbers[field] = _phone_field(body, field)
            except Refusal as refusal:
                errors.update(refusal.body["errors"])
        for field in ("timeout", "limit"):
            value = body.get(field)
            if value is not None and (type(value) is not int or value <= 0):
                errors[field] = [f"فیلد {field} باید عدد صحیح مثبت باشد."]
        if errors:
            _invalid(errors)
        billing = self._charge(path)
        self._placed(
            numbers["call_source"],
            numbers["call_destination"],
            has_recording=True,
            kind=path.strip("/"),
        )
        data: dict[str, Any] = {
            "request_id": _data.new_request_id(self._rng),
            "endpoint_number": ENDPOINT_NUMBER,
            "status": "accepted",
        }
        if provider:
            data["provider"] = {"success": True, "status": 201}
        return {"ok": True, "data": data, "billing": billing}

    @route("POST", "/click-to-call")
    def _click_to_call(self, *, payload: Any, **_: Any) -> dict[str, Any]:
        return self._place_call("/click-to-call", payload, provider=True)

    @route("POST", "/secure-call")
    def _secure_call(self, *, payload: Any, **_: Any) -> dict[str, Any]:
        return self._place_call("/secure-call", payload, provider=False)

    def _placed(self, source: str, destination: str, *, has_recording: bool, **extra: Any) -> None:
        """A placed call or OTP shows up at the top of the call reports."""
        report = _data.make_report(
            self._rng,
            source=source,
            destination=destination,
            has_recording=has_recording,
            started=_utcnow(),
            **extra,
        )
        self.reports.insert(0, report)

    # -- reads --------------------------------------------------------------------------

    @route("GET", "/call-reports")
    def _call_reports(self, *, query: dict[str, str], base: str, **_: Any) -> dict[str, Any]:
        page = _int_param(query, "page", 1, minimum=1)
        per_page = _int_param(query, "limit", 10, minimum=1, maximum=1000)
        reports = self.reports
        flag = query.get("has_recording")
        if flag is not None:
            if flag.lower() not in {"0", "1", "true", "false"}:
                _invalid({"has_recording": ["مقدار has_recording نامعتبر است."]})
            wanted = flag.lower() in {"1", "true"}
            reports = [r for r in reports if r["has_recording"] is wanted]
        total = len(reports)
        start = (page - 1) * per_page
        items = [
            {
                **report,
                "recording_url": (
                    f"{base}/call-recordings/{report['call_details_record_id']}"
                    f"?call_details_record_id={report['call_details_record_id']}"
                    if report["has_recording"]
                    else None
                ),
            }
            for report in reports[start : start + per_page]
        ]
        return _free(
            {
                "endpoint_number": ENDPOINT_NUMBER,
                "items": items,
                "pagination": {
                    "page": page,
                    "per_page": per_page,
                    "total": total,
                    "last_page": max(1, -(-total // per_page)),
                },
            }
        )

    @route("GET", "/services")
    def _services(self, **_: Any) -> dict[str, Any]:
        return _free({"items": self.services, "total": len(self.services)})

    @route("GET", "/voicemail-inboxes")
    def _voicemail_inboxes(self, *, query: dict[str, str], **_: Any) -> dict[str, Any]:
        context = query.get("context")
        limit = _int_param(query, "limit", 20, minimum=1, maximum=100)
        if context is not None:
            self._check_context(context)
        items = [i for i in self.inboxes if context is None or i["context"] == context]
        return _free({"items": items[:limit], "allowed_contexts": self.allowed_contexts})

    def _check_context(self, context: str) -> None:
        if context not in self.allowed_contexts:
            raise Refusal(403, {"ok": False, "message": "دسترسی به این صندوق صوتی مجاز نیست."})

    # -- downloads ----------------------------------------------------------------------

    @route("GET", "/call-recordings/*")
    def _call_recording(self, *, argument: str | None, **_: Any) -> tuple[bytes, str]:
        cdr_id = argument or ""
        for report in self.reports:
            if report["call_details_record_id"] == cdr_id and report["has_recording"]:
                audio = _data.tone_wav(cdr_id, self.recording_seconds)
                return audio, _vendor.recording_filename(cdr_id)
        raise Refusal(404, {"ok": False, "message": "فایل صوتی این تماس یافت نشد."})

    @route("GET", "/voicemail-recordings/*")
    def _voicemail_recording(
        self, *, argument: str | None, query: dict[str, str], **_: Any
    ) -> tuple[bytes, str]:
        context = query.get("context", "")
        mailbox = query.get("mailbox", "")
        if not context or not mailbox:
            _invalid(
                {"context": ["فیلد context الزامی است."]}
                if not context
                else {"mailbox": ["فیلد mailbox الزامی است."]}
            )
        self._check_context(context)
        wanted = VoicemailMessage(argument or "", context, mailbox)
        if wanted not in self.voicemail_messages:
            raise Refusal(404, {"ok": False, "message": "پیام صوتی یافت نشد."})
        audio = _data.tone_wav(wanted.unique_id, self.recording_seconds)
        return audio, _vendor.voicemail_filename(wanted.unique_id)
