"""The JSON envelope (``ok``, ``data``, ``billing``), parsed once, and the errors built from it.

Success::

    {"ok": true, "data": {...}, "billing": {"charged": 160, "unit_price": 160, ...}}

Errors come in every shape listed in the API notes, and in shapes nobody listed; each
becomes the matching [`APIError`][voipano_async.APIError] subclass, never a ``KeyError``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

import httpx2

from ._body import with_body
from ._converter import CONVERTERS, ShapeError
from ._exceptions import (
    APIError,
    RateLimitError,
    UnexpectedResponseError,
    error_class_for,
)
from ._models import (
    EMPTY_EXTRA,
    FREE,
    NO_META,
    Billing,
    ChargedEnvelope,
    Envelope,
    RawEnvelope,
    RawResult,
    ResponseMeta,
)
from ._rules import ABSENT, shown

__all__ = [
    "api_error",
    "decode_error_body",
    "decode_result",
    "html_page",
    "parse_retry_after",
    "request_id_of",
]

T = TypeVar("T")

_PREVIEW_CHARS = 2000


def _loads(content: bytes) -> object:
    """Decode JSON; raise ``ValueError`` for anything that is not (including deep nesting)."""
    try:
        return json.loads(content)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def html_page(content_type: str | None, body: object) -> str | None:
    """``"an HTML page answered, not the API"`` and its title, when ``body`` is one.

    An HTML page is what the content type says, or what the text itself starts as.
    """
    if not isinstance(body, str) or not body.strip():
        return None
    kind = (content_type or "").split(";")[0].strip().lower()
    start = body.lstrip()[:15].lower()
    if kind not in _HTML_TYPES and not start.startswith(("<!doctype html", "<html")):
        return None
    found = _TITLE.search(body)
    title = " ".join(html.unescape(found[1]).split())[:120] if found else ""
    return (
        f'an HTML page answered, not the API: "{title}"'
        if title
        else ("an HTML page answered, not the API")
    )


def _text(content: bytes, redact: str | None = None, limit: int = _PREVIEW_CHARS) -> str:
    """Bounded text of a body; the token is scrubbed before the cut, so no half of it shows."""
    margin = len(redact) if redact else 0
    text = content[: (limit + margin) * 4].decode("utf-8", "replace")[: limit + margin]
    if redact:
        text = text.replace(redact, "***")
    return text[:limit]


def decode_result(
    response: httpx2.Response,
    cl: type[T],
    *,
    charged: bool,
    strict: bool = False,
    redact: str | None = None,
    content: bytes | None = None,
    meta_of: Callable[[Mapping[str, Any], tuple[str, ...]], ResponseMeta] | None = None,
) -> T:
    """Turn a 2xx answer into ``cl``, or raise the error it carries.

    ``charged`` marks the charged endpoints: an answer that cannot be read there means the
    call may well have been placed, and the error says so. An answer that drifted from the
    published shape is read tolerantly (``Converters.read_tolerantly``) unless ``strict``;
    a charged call's ``ok: true`` answer, the call placed, the most tolerantly of all: what cannot
    be read in its ``data`` is read as null, and a ``billing`` it lacks as none said.
    ``content`` is the body when it was read apart from the response. ``meta_of`` makes the
    result's ``meta`` from its fields as read (so that it may quote the answer's own
    ``request_id``) and the notes of what drifted.
    """
    if cl is RawResult:  # client.request(): its data as sent
        raw: T = decode_raw(  # type: ignore[assignment]
            response,
            charged=charged,
            strict=strict,
            redact=redact,
            content=content,
            meta_of=meta_of,
        )
        return raw
    body = _answer_object(response, content, charged=charged, redact=redact)
    shape = _ENVELOPES.get((cl, charged and strict)) or _envelope_of(cl, charged and strict)
    read = CONVERTERS.hook(shape)  # a "result" without billing: TypeError, no misfit
    nullable = _PLACED if charged else ()
    envelope, notes, problems = _read(read, body, shape, strict=strict, nullable=nullable)
    if envelope is not None and envelope.billing is not FREE:
        problems = _negative_charges(envelope.billing)
    if envelope is None or problems:
        raise _misfit(response, cl.__name__, problems, body, charged=charged, redact=redact)
    if charged and envelope.billing is None and not notes:
        said = shown(body.get("billing", ABSENT))
        notes = (f"$.billing: {said}, so the published price is counted as spent",)
    fields = envelope.data
    if meta_of is not None:
        fields["meta"] = meta_of(fields, notes)
    billing = envelope.billing if charged else envelope.billing or FREE
    result: T = cl(**fields, billing=billing)  # type: ignore[call-arg]
    return result


def _read(
    read: Callable[[Any, Any], Any],
    value: object,
    shape: Any,
    *,
    strict: bool,
    nullable: Sequence[tuple[str, ...]] = (),
) -> tuple[Any, tuple[str, ...], list[str]]:
    """``value`` read as ``shape``: what was read (``None`` when it does not fit), the
    notes of what drifted, and the problems. Exact first, at full speed; then strictly,
    explained, or tolerantly, mended where that is lossless."""
    try:
        return read(value, shape), (), []
    except Exception:
        try:
            if strict:
                return None, (), CONVERTERS.explain(value, shape)
            found, notes = CONVERTERS.read_tolerantly(value, shape, nullable=nullable)
            return found, notes, []
        except ShapeError as exc:
            return None, (), exc.problems


def _misfit(
    response: httpx2.Response,
    what: str,
    problems: list[str],
    body: object,
    *,
    charged: bool,
    redact: str | None,
) -> UnexpectedResponseError:
    """The error for an answer that does not fit ``what``, with the server's request id."""
    error = UnexpectedResponseError(
        f"the server's answer does not fit {what}",
        status_code=response.status_code,
        problems=problems,
        body=body,
        may_have_been_placed=charged,
    )
    error.request_id = request_id_of(response.headers, body, redact)
    return error


def _answer_object(
    response: httpx2.Response, content: bytes | None, *, charged: bool, redact: str | None
) -> dict[str, Any]:
    """A 2xx answer's JSON object, or the error it is: not JSON, not an object, ``ok: false``."""
    status = response.status_code
    if content is None:
        content = response.content
    try:
        body = _loads(content)
    except ValueError:
        preview = _text(content, redact, 80)
        page = html_page(response.headers.get("content-type"), _text(content, redact))
        raise UnexpectedResponseError(
            "the server's answer is not JSON" + (f" ({page})" if page else ""),
            status_code=status,
            problems=[f"body starts with {preview!r}"] if content else ["empty body"],
            body=_text(content, redact),
            may_have_been_placed=charged,
            unreadable=True,
        ) from None
    if type(body) is not dict:
        raise UnexpectedResponseError(
            "the server's answer is not a JSON object",
            status_code=status,
            body=body,
            may_have_been_placed=charged,
            unreadable=True,
        )
    if body.get("ok") is False:
        # The error's response carries the body it was read from (read straight from
        # the stream, the response itself holds none).
        raise api_error(with_body(response, content), body, redact=redact)
    return body


def decode_raw(
    response: httpx2.Response,
    *,
    charged: bool,
    strict: bool = False,
    redact: str | None = None,
    content: bytes | None = None,
    meta_of: Callable[[Mapping[str, Any], tuple[str, ...]], ResponseMeta] | None = None,
) -> RawResult:
    """A 2xx answer as a ``RawResult``: its ``data`` as sent, its ``billing`` by the rules.

    The same errors as ``decode_result`` for what is not an answer at all (not JSON, not
    an object, ``ok: false``), and the same reading of ``ok`` and ``billing``: exact,
    else tolerant (unless ``strict``), a negative charge refused. ``data`` is not read
    against any shape: the caller knows what it asked for.
    """
    body = _answer_object(response, content, charged=charged, redact=redact)
    said = {key: body[key] for key in ("ok", "billing") if key in body}
    read = CONVERTERS.hook(RawEnvelope)
    envelope, notes, problems = _read(read, said, RawEnvelope, strict=strict)
    if envelope is not None:
        problems = _negative_charges(envelope.billing)
    if envelope is None or problems:
        what = "the envelope {ok, data, billing}"
        raise _misfit(response, what, problems, body, charged=charged, redact=redact)
    billing = envelope.billing
    if billing is None and charged and not notes:
        said_billing = shown(body.get("billing", ABSENT))
        notes = (f"$.billing: {said_billing}, so the path's known price is counted as spent",)
    data = body.get("data")
    extra = {key: value for key, value in body.items() if key not in _RAW_KEYS}
    meta = NO_META
    if meta_of is not None:  # the answer's own request_id, if its data has one
        meta = meta_of(data if type(data) is dict else {}, notes)
    return RawResult(
        data=data,
        billing=billing if charged else billing or FREE,
        extra=MappingProxyType(extra) if extra else EMPTY_EXTRA,
        meta=meta,
    )


_RAW_KEYS = frozenset({"ok", "data", "billing"})

# Where a placed call's answer may have what it cannot read emptied: its ``data``.
_PLACED = (("data",),)


def _envelope_of(cl: type[T], charged: bool) -> Any:
    """The envelope ``cl``'s answers come in, made once per result model."""
    shape = _ENVELOPES.get((cl, charged))
    if shape is None:
        shape = _ENVELOPES[cl, charged] = (ChargedEnvelope if charged else Envelope)[cl]
    return shape


_ENVELOPES: dict[tuple[type[Any], bool], Any] = {}


def _negative_charges(billing: Billing | None) -> list[str]:
    """A charge is never negative: one that is would lower what the spend guard counts
    and lift ``spend_limit``."""
    if billing is None or billing is FREE:
        return []
    return [
        f"expected 0 or more @ $.billing.{name}"
        for name in ("charged", "unit_price")
        if getattr(billing, name) < 0
    ]


def _as_text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _field_errors(value: object) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        return {}
    errors: dict[str, list[str]] = {}
    for field, messages in value.items():
        if isinstance(messages, str):
            errors[str(field)] = [messages]
        elif isinstance(messages, list):
            errors[str(field)] = [m for m in (_as_text(m) for m in messages) if m]
    return errors


def _describe_body(body: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, list[str]]]:
    message = _as_text(body.get("message"))
    code = _as_text(body.get("code"))
    error = body.get("error")
    if isinstance(error, Mapping):
        code = _as_text(error.get("code")) or code
        message = _as_text(error.get("message")) or message
        errors = _field_errors(error.get("errors"))
    else:
        message = message or _as_text(error)
        errors = {}
    errors = _field_errors(body.get("errors")) or errors
    return message, code, errors


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else math.inf


def api_error(
    response: httpx2.Response,
    body: object,
    *,
    may_have_been_placed: bool = False,
    redact: str | None = None,
) -> APIError:
    """Build the error for an error answer; ``body`` is decoded JSON or bounded text.

    What was asked (``request_line``) is the caller's to add: the transport does, at its
    boundary.
    """
    status = response.status_code
    message = code = None
    errors: dict[str, list[str]] = {}
    if isinstance(body, Mapping):
        message, code, errors = _describe_body(body)
    if message is None:
        message = (
            "the server answered ok: false"
            if response.is_success
            else response.reason_phrase or "error"
        )
        page = html_page(response.headers.get("content-type"), body)
        if page is not None:
            # A proxy's, a CDN's or a framework's error page: the API itself never
            # answered (a Cloudflare 403 is no word on the token's rights).
            message += f": {page}"
        if status == 404:
            # No JSON error: most likely not the API at all, i.e. a wrong base URL.
            message += (
                "; the server has no such path: check base_url (VOIPANO_BASE_URL), "
                "which ends in /api/v1/webservice"
            )
    if redact:
        message = message.replace(redact, "***")
        code = code.replace(redact, "***") if code else code
        errors = {f: [m.replace(redact, "***") for m in ms] for f, ms in errors.items()}
    cls = error_class_for(status, code)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "errors": errors,
        "body": body,
        "response": response,
        "may_have_been_placed": may_have_been_placed,
    }
    if issubclass(cls, RateLimitError):
        error: APIError = cls(
            message, retry_after=parse_retry_after(response.headers.get("retry-after")), **kwargs
        )
    else:
        error = cls(message, **kwargs)
    error.request_id = request_id_of(response.headers, body, redact)
    return error


_ID_HEADERS = (b"x-request-id", b"request-id")


def _has_id_header(headers: httpx2.Headers) -> bool:
    """Whether either id header is there: one pass, where two failed look-ups cost more."""
    return any(key.lower() in _ID_HEADERS for key, _ in headers.raw)


def request_id_of(
    headers: Mapping[str, str], body: object = None, redact: str | None = None
) -> str | None:
    """The server's id for a request: ``X-Request-Id``/``Request-Id``, else the body's."""
    found = (
        headers.get("x-request-id") or headers.get("request-id")
        if not isinstance(headers, httpx2.Headers) or _has_id_header(headers)
        else None
    )
    if found is None and isinstance(body, Mapping):
        data = body.get("data")
        candidate = data.get("request_id") if isinstance(data, Mapping) else None
        if candidate is None:
            candidate = body.get("request_id")
        # An id sent as a number (the live server's drift) is still the id.
        if type(candidate) is int:
            candidate = str(candidate)
        found = candidate if isinstance(candidate, str) else None
    if found is not None and redact:
        found = found.replace(redact, "***")
    return found


def decode_error_body(content: bytes, *, redact: str | None = None) -> object:
    """The error body as JSON when it is JSON, else as bounded text (token scrubbed)."""
    try:
        return _loads(content)
    except ValueError:
        return _text(content, redact)
