"""The results the API returns, as plain frozen attrs classes.

The models hold data only; how JSON becomes a model lives in ``_converter.py``. Every
model keeps the keys the SDK does not know yet in ``extra``, so a field the live API adds
is readable the day it appears, while the known fields stay strictly typed. A result's
``billing`` is the envelope's; a ``billing`` key inside ``data`` lands in ``extra``.

The annotations are evaluated here, not kept as strings (no ``from __future__ import
annotations``): the package re-labels these classes ``voipano_async.X``, and real types
need no module to be read in.
"""

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "Answer",
    "Billing",
    "CallOtpResult",
    "CallProvider",
    "CallReport",
    "CallReportsPage",
    "CallResult",
    "ChargedEnvelope",
    "Envelope",
    "Fields",
    "Pagination",
    "RawEnvelope",
    "RawResult",
    "ResponseMeta",
    "Service",
    "ServiceList",
    "ServicePackage",
    "VoicemailInbox",
    "VoicemailInboxes",
]

EMPTY_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _extra_field() -> Any:
    return attrs.field(default=EMPTY_EXTRA, repr=lambda extra: repr(dict(extra)))


# The fields the base classes give, in the order they close every model.
_SHARED = ("billing", "extra", "meta")


def _own_first(cls: type, fields: "list[attrs.Attribute[Any]]") -> "list[attrs.Attribute[Any]]":
    """A model's own fields first, in the API's order; then ``billing``, ``extra``, ``meta``.

    The order of ``repr``, of the CLI's JSON keys and CSV columns.
    """
    shared = sorted((f for f in fields if f.name in _SHARED), key=lambda f: _SHARED.index(f.name))
    return [f for f in fields if f.name not in _SHARED] + shared


# The converter's ``to_dict``, looked up once: _converter imports this module.
_to_dict: Callable[[object], Any] | None = None


def _load_to_dict() -> Callable[[object], Any]:
    global _to_dict
    from ._converter import to_dict

    _to_dict = to_dict
    return to_dict


class _Serialisable:
    """``to_dict`` and ``to_json``, the names openai's models use."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """This as JSON-ready data: only ``str``, ``int``, ``float``, ``bool``, ``None``,
        lists and dicts, under the server's field names.

        A model's ``extra`` keys are merged in after its own fields, as the server sent
        them; a result's ``meta`` is left out (it is how the answer came, not what it said).
        Nested models become dicts alike. Return it from a FastAPI route, or
        ``json.dumps`` it.

        Examples:
            >>> services.to_dict()["items"][0]["package"]["name"]
            'پلن پیوند'
        """
        data: dict[str, Any] = (_to_dict or _load_to_dict())(self)
        return data

    def to_json(self, *, indent: int | None = 2) -> str:
        """``to_dict()`` as a JSON string, Persian text as is (not ``\\u`` escaped).

        Args:
            indent: Spaces per level (default 2); ``None`` for one line, as JSON Lines
                wants.
        """
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


@attrs.frozen(kw_only=True)
class Model(_Serialisable):
    """What every model has: ``extra``, the keys of its JSON object the SDK does not model."""

    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class Billing(Model):
    """What a request cost, as the envelope's ``billing`` reports it.

    Attributes:
        charged: Credit units deducted for this request (0 for the free endpoints).
        unit_price: The endpoint's price per request.
        remaining_credit: The account's credit after the request, when the server says.
        extra: Keys of the ``billing`` object that the SDK does not model.
    """

    charged: int
    unit_price: int
    remaining_credit: int | None = None


FREE = Billing(charged=0, unit_price=0)


@attrs.frozen(kw_only=True)
class ResponseMeta(_Serialisable):
    """How a result came back: for support tickets, logs and metrics (``result.meta``).

    ``meta`` is no part of a result's value: it takes no part in equality, hashing or
    ``repr``, and the CLI's exports leave it out.

    Attributes:
        status_code: The HTTP status of the answer.
        headers: The answer's HTTP headers (a case-insensitive mapping).
        request_id: The server's id for the request: its ``X-Request-Id`` or
            ``Request-Id`` header when it sends one, else the body's ``request_id`` where
            the endpoint has one, else ``None``. Quote it when you write to support.
        attempts: How many attempts the call took (1 when nothing was retried).
        elapsed: Seconds from the first attempt's start to the answer, waits included.
        drift: What in the answer drifted from the published shape and how it was read,
            one note each (``'$.billing.charged: "160" read as 160'``); empty when the
            answer had the published shape. See "Tolerant reading" in the docs.
    """

    status_code: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    request_id: str | None
    attempts: int
    elapsed: float
    drift: tuple[str, ...] = ()


NO_META = ResponseMeta(
    status_code=0, headers=MappingProxyType({}), request_id=None, attempts=0, elapsed=0.0
)
"""The ``meta`` of a result that did not come from the server (one you built yourself)."""


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class Answer(Model):
    """What every endpoint's answer has besides its own fields (a base class).

    Attributes:
        billing: What the request cost, from the envelope; ``None`` only on a charged
            call's result whose answer did not say (a free endpoint's result always has
            one).
        extra: Keys of ``data`` that the SDK does not model.
        meta: How the answer came back: status, headers, request id, attempts
            ([`ResponseMeta`][voipano_async.ResponseMeta]); no part of its value.
    """

    billing: Billing | None
    meta: ResponseMeta = attrs.field(default=NO_META, eq=False, hash=False, repr=False)


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class CallOtpResult(Answer):
    """The answer to [`AsyncVoipano.call_otp`][voipano_async.AsyncVoipano.call_otp].

    The call was placed: a field the answer lacks, sends as null or has unreadable is
    ``None`` rather than an error (and noted in ``meta.drift``); only an unreadable charge
    fails.

    Attributes:
        request_id: The server's id for this OTP call.
        phone_number: The number called (the server may mask it).
        purpose: The purpose sent with the request, echoed back.
        message: The server's message, usually Persian (``"کد تایید ارسال شد."``).
        billing: What the OTP call cost, and the credit left; ``None`` when the answer did
            not say (``spent`` then counts the published price).
        extra: Keys of ``data`` that the SDK does not model.
        meta: How the answer came back ([`Answer.meta`][voipano_async.Answer]).
    """

    request_id: str | None
    phone_number: str | None
    purpose: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class CallProvider(Model):
    """What the telephony provider said when the call was handed over.

    In [`CallResult.provider`][voipano_async.CallResult].

    Attributes:
        success: Whether the provider accepted the call.
        status: The provider's own status code, e.g. ``201``.
        extra: Keys the SDK does not model.
    """

    success: bool
    status: int | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class CallResult(Answer):
    """The answer to a click-to-call or a secure call.

    From [`click_to_call`][voipano_async.AsyncVoipano.click_to_call] and
    [`secure_call`][voipano_async.AsyncVoipano.secure_call].

    The call was placed: a field the answer lacks, sends as null or has unreadable is
    ``None`` rather than an error (and noted in ``meta.drift``); only an unreadable charge
    fails.

    Attributes:
        request_id: The server's id for this call.
        endpoint_number: The line the call is placed from, e.g. ``"02191010001"``.
        status: The call's status, e.g. ``"accepted"``.
        provider: The provider's answer, or ``None`` when the server does not report it.
        billing: What the call cost, and the credit left; ``None`` when the answer did not
            say (``spent`` then counts the published price).
        extra: Keys of ``data`` that the SDK does not model.
        meta: How the answer came back ([`Answer.meta`][voipano_async.Answer]).
    """

    request_id: str | None
    endpoint_number: str | None = None
    status: str | None
    provider: CallProvider | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class CallReport(Model):
    """One call in the call reports.

    What [`call_reports`][voipano_async.AsyncVoipano.call_reports] yields, and the
    items of a [`CallReportsPage`][voipano_async.CallReportsPage].

    Attributes:
        id: The report's id; unique across pages.
        call_details_record_id: The CDR id, which names the call's recording.
        call_source: The calling number (the server may mask it).
        call_destination: The called number (the server may mask it).
        has_recording: Whether a recording can be downloaded.
        recording_url: The server's link to the recording, or ``None``. The SDK downloads
            through the configured API host by id and never sends the token elsewhere.
        extra: Keys the SDK does not model yet (durations, dates, statuses, ...).
    """

    id: str
    call_details_record_id: str
    call_source: str | None = None
    call_destination: str | None = None
    has_recording: bool = False
    recording_url: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class Pagination(Model):
    """Where a page sits in the whole list (Laravel-style page numbers, from 1).

    In [`CallReportsPage.pagination`][voipano_async.CallReportsPage].

    Attributes:
        page: This page's number.
        per_page: The page size.
        total: How many reports there are in all.
        last_page: The number of the last page.
        extra: Keys the SDK does not model.
    """

    page: int
    per_page: int
    total: int
    last_page: int


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class CallReportsPage(Answer):
    """One page of call reports.

    From [`call_reports_page`][voipano_async.AsyncVoipano.call_reports_page] and the pages
    of [`call_reports`][voipano_async.AsyncVoipano.call_reports].

    Attributes:
        endpoint_number: The line the reports belong to.
        items: The reports on this page.
        pagination: Where the page sits in the whole list.
        billing: What the request cost (nothing, by the published samples).
        extra: Keys of ``data`` that the SDK does not model.
        meta: How the answer came back ([`Answer.meta`][voipano_async.Answer]).
    """

    endpoint_number: str | None = None
    items: list[CallReport]
    pagination: Pagination
    billing: Billing


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class ServicePackage(Model):
    """The plan a service subscription is on.

    In [`Service.package`][voipano_async.Service].

    Attributes:
        id: The plan's id.
        name: The plan's name, usually Persian (``"پلن پیوند"``).
        slug: The plan's short name (``"peyvand"``).
        extra: Keys the SDK does not model.
    """

    id: int
    name: str | None = None
    slug: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class Service(Model):
    """A service subscription on the account.

    The items of a [`ServiceList`][voipano_async.ServiceList].

    Attributes:
        subscription_id: The subscription's id.
        status: E.g. ``"active"``.
        remaining_days: Days left on the subscription.
        package: The plan, or ``None``.
        phone_number: The line's number as the server writes it (e.g. ``"002191010001"``).
        extra: Keys the SDK does not model.
    """

    subscription_id: int
    status: str | None = None
    remaining_days: int | None = None
    package: ServicePackage | None = None
    phone_number: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class ServiceList(Answer):
    """The answer to [`AsyncVoipano.services`][voipano_async.AsyncVoipano.services].

    Attributes:
        items: The account's services.
        total: How many there are.
        billing: What listing the services cost (nothing).
        extra: Keys of ``data`` that the SDK does not model.
        meta: How the answer came back ([`Answer.meta`][voipano_async.Answer]).
    """

    items: list[Service]
    total: int
    billing: Billing


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class VoicemailInbox(Model):
    """A voicemail inbox.

    The items of [`VoicemailInboxes`][voipano_async.VoicemailInboxes].

    Attributes:
        id: The inbox's id.
        mailbox: The mailbox number, e.g. ``"1001"``.
        context: The voicemail context, e.g. ``"voicemail-02191010001"``.
        fullname: The owner's name, when set.
        extra: Keys the SDK does not model.
    """

    id: str
    mailbox: str
    context: str
    fullname: str | None = None


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class VoicemailInboxes(Answer):
    """The answer to [`voicemail_inboxes`][voipano_async.AsyncVoipano.voicemail_inboxes].

    Attributes:
        items: The inboxes.
        allowed_contexts: The voicemail contexts this token may read.
        billing: What listing the inboxes cost (nothing).
        extra: Keys of ``data`` that the SDK does not model.
        meta: How the answer came back ([`Answer.meta`][voipano_async.Answer]).
    """

    items: list[VoicemailInbox]
    allowed_contexts: list[str]
    billing: Billing


# -- the wire's own shapes, for the converter (not exported) ----------------------------------

R = TypeVar("R")


class Fields(dict[str, Any], Generic[R]):
    """The fields of the result model ``R`` read from an answer's ``data``, by name.

    Keyword arguments for ``R``, less what ``data`` does not hold: ``billing`` (the
    envelope's) and ``meta`` (the response's).
    """


@attrs.frozen(kw_only=True, field_transformer=_own_first)
class RawResult(Answer):
    """The answer to [`AsyncVoipano.request`][voipano_async.AsyncVoipano.request]: its
    ``data`` as the server sent it, for an endpoint the SDK has no method for.

    Attributes:
        data: The answer's ``data``, decoded from JSON and nothing more (``dict``,
            ``list``, ``str``, ``int``, ``float``, ``bool``); ``None`` when it had none.
        billing: What the request cost; ``None`` only when a charged request's answer did
            not say (``spent`` then counts the price last seen for the path, if any).
        extra: The answer's keys besides ``ok``, ``data`` and ``billing`` (a top-level
            ``message``, say).
        meta: How the answer came back ([`Answer.meta`][voipano_async.Answer]).
    """

    data: Any


@attrs.frozen(kw_only=True)
class RawEnvelope:
    """What ``request`` reads of an answer by the rules: ``ok`` and ``billing``."""

    ok: bool = True
    billing: Billing | None = None


@attrs.frozen(kw_only=True)
class Envelope(Generic[R]):
    """Every answer as sent: ``{"ok": true, "data": {...}, "billing": {...}}``.

    A free endpoint may leave ``billing`` out; a missing ``ok`` reads as true.
    """

    ok: bool = True
    data: Fields[R]
    billing: Billing | None = None


@attrs.frozen(kw_only=True)
class ChargedEnvelope(Envelope[R]):
    """The envelope of a charged call's answer, which must say what the call cost."""

    billing: Billing
