"""Every error the SDK raises, in one tree rooted at [`VoipanoError`][voipano_async.VoipanoError].

::

    VoipanoError
    ├── InvalidPhoneNumberError      (also a ValueError; raised before any request)
    ├── APIConnectionError           the server could not be reached or the answer broke off
    │   └── APITimeoutError          connect, read, write or pool timeout
    ├── APIError                     the server answered with an error (or ``ok: false``)
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401
    │   ├── InsufficientCreditError  402, or an ``insufficient...`` error code
    │   ├── PermissionDeniedError    403
    │   ├── NotFoundError            404
    │   ├── UnprocessableEntityError 422 (field errors in ``errors``)
    │   ├── RateLimitError           429 (``retry_after`` seconds or ``None``)
    │   └── ServerError              5xx
    ├── UnexpectedResponseError      a 2xx answer that is not JSON or does not fit the model
    └── SpendLimitExceededError      a charged call refused by the client's own spend guard

Every error carries ``may_have_been_placed``: ``True`` when the request was for a charged
call (``call_otp``, ``click_to_call``, ``secure_call``) and the server may have acted on it.
Such a call must not be repeated blindly: it may ring a phone and charge the account again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "InsufficientCreditError",
    "InvalidPhoneNumberError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SpendLimitExceededError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "VoipanoError",
]


def sentence(text: str) -> str:
    """``text`` ending as a sentence does, so that another can follow it."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "؟", "…")) else f"{text}."


_MAY_HAVE_BEEN_PLACED = (
    "The call may have been placed and charged: check the call reports before repeating it."
)


class VoipanoError(Exception):
    """The root of every error the SDK raises.

    Attributes:
        message: A readable description (Persian server messages are kept as sent).
        may_have_been_placed: ``True`` when a charged call may have reached the server,
            so repeating it could place and charge it twice.
        request_id: The server's id for the failed request, when it gave one (an
            ``X-Request-Id``/``Request-Id`` header, or the error body's ``request_id``):
            quote it when you write to support.
        attempts: How many attempts were made before this error (0 when it was raised
            before any request, such as an invalid phone number).
        request_line: What was asked, e.g. ``"GET /call-reports?page=3"``: the method and
            the path relative to ``base_url``, phone numbers masked, never the token;
            ``None`` for an error raised before any request.
    """

    message: str
    may_have_been_placed: bool
    request_id: str | None = None
    attempts: int = 0
    request_line: str | None = None

    def __init__(self, message: str, *, may_have_been_placed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.may_have_been_placed = may_have_been_placed

    def __str__(self) -> str:
        if self.may_have_been_placed:
            return f"{sentence(self._describe())} {_MAY_HAVE_BEEN_PLACED}"
        return self._describe()

    def _describe(self) -> str:
        return self.message

    def __repr__(self) -> str:
        """What ``str`` says (the request line, ``may_have_been_placed``'s warning), then
        the attributes a log line needs: logged with ``%r``, nothing is lost."""
        text = str(self)
        shown = [repr(text), *(f"{name}={value!r}" for name, value in self._repr_fields())]
        if self.may_have_been_placed:
            shown.append("may_have_been_placed=True")
        if self.request_line and self.request_line not in text:
            shown.append(f"request_line={self.request_line!r}")
        if self.request_id:
            shown.append(f"request_id={self.request_id!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def _repr_fields(self) -> list[tuple[str, object]]:
        return []


class InvalidPhoneNumberError(VoipanoError, ValueError):
    """A phone number that is not an 11-digit Iranian number, raised before any request.

    Attributes:
        phone_number: The value as the caller gave it.
    """

    phone_number: object

    def __init__(self, message: str, *, phone_number: object) -> None:
        super().__init__(message)
        self.phone_number = phone_number


class APIConnectionError(VoipanoError):
    """The server could not be reached, or the connection broke before a full answer."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting, waiting for a pooled connection, or reading)."""


class APIError(VoipanoError):
    """The server answered with an error status, or with ``ok: false``.

    Attributes:
        status_code: The HTTP status.
        code: The server's error code, when it sent one.
        message: The server's message (Persian kept intact), or a description of the status.
        errors: Field errors, ``{"phone_number": ["..."]}``, empty when there were none.
        body: The decoded JSON body, or the (bounded) text when it was not JSON.
        response: The ``httpx2.Response`` (its body may be truncated to a bounded size).
        request_line: What was asked, e.g. ``"GET /services"``: the method and the path
            relative to ``base_url``, phone numbers masked, never the token.
    """

    status_code: int
    code: str | None
    errors: dict[str, list[str]]
    body: object
    response: httpx2.Response | None
    request_line: str | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        body: object = None,
        response: httpx2.Response | None = None,
        may_have_been_placed: bool = False,
        request_line: str | None = None,
    ) -> None:
        super().__init__(message, may_have_been_placed=may_have_been_placed)
        self.status_code = status_code
        self.code = code
        self.errors = dict(errors or {})
        self.body = body
        self.response = response
        self.request_line = request_line

    def _describe(self) -> str:
        parts = [self.message]
        for field, messages in self.errors.items():
            parts.append(f"{field}: {' '.join(messages)}")
        detail = f"HTTP {self.status_code}"
        if self.code:
            detail += f", code {self.code}"
        if self.request_line:
            detail += f", {self.request_line}"
        return f"{' — '.join(parts)} ({detail})"

    def _repr_fields(self) -> list[tuple[str, object]]:
        fields: list[tuple[str, object]] = [("status_code", self.status_code)]
        if self.code:
            fields.append(("code", self.code))
        return fields


class BadRequestError(APIError):
    """400: the server rejected the request as malformed."""


class AuthenticationError(APIError):
    """401: the token is missing, wrong or revoked."""


class InsufficientCreditError(APIError):
    """402, or an ``insufficient...`` error code: the account has too little credit."""


class PermissionDeniedError(APIError):
    """403: the token may not do this (for example a voicemail context it does not own)."""


class NotFoundError(APIError):
    """404: no such recording, voicemail message or endpoint."""


class UnprocessableEntityError(APIError):
    """422: validation failed; ``errors`` maps each field to its messages."""


class RateLimitError(APIError):
    """429: too many requests.

    Attributes:
        retry_after: Seconds the server asked us to wait, or ``None`` when it did not say.
    """

    retry_after: float | None

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server (or a proxy in front of it) failed."""


class UnexpectedResponseError(VoipanoError):
    """A successful answer whose body is not JSON or does not fit the expected shape.

    Attributes:
        status_code: The HTTP status.
        problems: Short readable lines saying what did not fit, e.g.
            ``"invalid value for type, expected int @ $.data.total"``.
        body: The decoded JSON body, or the (bounded) text when it was not JSON.
        unreadable: ``True`` when the body could not be read at all (not JSON: cut off
            by a flaky link, or a proxy's page), rather than read and found not to fit.
            A free read is retried after such an answer, as after a 5xx.
    """

    status_code: int
    problems: list[str]
    body: object
    unreadable: bool

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        problems: list[str] | None = None,
        body: object = None,
        may_have_been_placed: bool = False,
        unreadable: bool = False,
    ) -> None:
        super().__init__(message, may_have_been_placed=may_have_been_placed)
        self.status_code = status_code
        self.problems = list(problems or [])
        self.body = body
        self.unreadable = unreadable

    def _describe(self) -> str:
        text = self.message
        if self.problems:
            shown = "; ".join(self.problems[:5])
            more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
            text = f"{text}: {shown}{more}"
        if self.request_line and self.request_line not in text:
            text = f"{text} ({self.request_line})"
        return text


class SpendLimitExceededError(VoipanoError):
    """A charged call refused before sending: it would pass ``spend_limit``, or the last
    ``remaining_credit`` seen is below ``min_credit``. Nothing was sent.

    Attributes:
        price: The price reserved for the refused call.
        spent: What the client had spent (and reserved) when it refused.
        limit: The ``spend_limit``, or ``None`` when ``min_credit`` refused it.
    """

    price: int
    spent: int
    limit: int | None

    def __init__(self, message: str, *, price: int, spent: int, limit: int | None) -> None:
        super().__init__(message)
        self.price = price
        self.spent = spent
        self.limit = limit


STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for(status_code: int, code: str | None) -> type[APIError]:
    """Pick the most specific error class for a status and an optional server code."""
    if code and code.lower().startswith("insufficient"):
        return InsufficientCreditError
    if status_code >= 500:
        return ServerError
    return STATUS_ERRORS.get(status_code, APIError)
