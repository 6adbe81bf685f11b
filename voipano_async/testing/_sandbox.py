"""``VoipanoSandbox``: a faithful, stateful emulator of the Voipano webservice (ASGI)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import random
import re
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote

import anyio
import attrs
import httpx2

from voipano_async import AsyncVoipano, Voipano
from voipano_async._config import PUBLISHED_PRICES

from . import _data
from ._data import ENDPOINT_NUMBER, VoicemailMessage
from ._faults import Fault, Faults

__all__ = ["API_PREFIX", "RecordedRequest", "VoipanoSandbox"]

API_PREFIX = "/api/v1/webservice"
IN_PROCESS_URL = "https://sandbox.voipano.invalid" + API_PREFIX

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PHONE = re.compile(r"0[0-9]{10}")
_FREE = {"charged": 0, "unit_price": 0}


@attrs.define(kw_only=True)
class RecordedRequest:
    """A request the sandbox received, as tests want to see it.

    It is recorded when the request arrives; ``status``, ``acted`` and ``fault`` are
    filled in as the sandbox answers it.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        path: The path below the API base, e.g. ``"/call-otp"``.
        query: The query parameters.
        json: The decoded JSON body, or ``None``.
        status: The status answered (``None`` when the connection was dropped).
        acted: Whether the sandbox carried the request out (charged the call, say).
        fault: The kind of fault injected, or ``None``.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None = None
    acted: bool = False
    fault: str | None = None


class _Answer(Exception):
    """Raised inside a handler to answer at once with an error."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class DroppedConnection(Exception):
    """Raised by the app to make the server close the connection without a full answer."""


class VoipanoSandbox:
    """An in-memory Voipano webservice: every endpoint, with state, prices and faults.

    It is an ASGI application. Use it in process with
    [`client`][voipano_async.testing.VoipanoSandbox.client] (no sockets; asyncio and trio),
    or over the wire with [`serve`][voipano_async.testing.VoipanoSandbox.serve] (uvicorn on a
    loopback port; asyncio).

    Args:
        token: The token it accepts (``401`` for any other).
        credit: Starting credit. Charged calls deduct 160 (call-otp), 80 (click-to-call)
            and 120 (secure-call); ``402`` once the credit does not cover the price.
        reports: How many seeded call reports there are.
        seed: Seeds every generated id, number and recording.
        rate_limit: Requests per second allowed before ``429`` with ``Retry-After``.

    Attributes:
        token: The accepted token.
        credit: The credit left now.
        requests: Every request received, in order
            ([`RecordedRequest`][voipano_async.testing.RecordedRequest]).
        faults: Fault injection ([`Faults`][voipano_async.testing.Faults]).
        reports: The call reports, newest first, as the API sends them.
        voicemail_messages: The voicemail messages that can be downloaded.
        allowed_contexts: The voicemail contexts the token may read.
        latency: Seconds every answer waits before it is sent (default 0), to make a
            realistic network for benchmarks and interruption tests.
        recording_seconds: The length of the generated recordings (default 2 s of 8 kHz
            16-bit mono: 32 KB).

    Examples:
        >>> sandbox = VoipanoSandbox(credit=500)
        >>> async with sandbox.client() as client:
        ...     await client.call_otp("09123456789")
        >>> sandbox.credit
        340
    """

    def __init__(
        self,
        *,
        token: str = "sandbox-token",
        credit: int = 10_000,
        reports: int = 300,
        seed: int = 0,
        rate_limit: float | None = None,
    ) -> None:
        self.token: str = token
        self.credit: int = credit
        self.rate_limit: float | None = rate_limit
        self.requests: list[RecordedRequest] = []
        self.faults: Faults = Faults()
        self.prices: dict[str, int] = dict(PUBLISHED_PRICES)
        self._rng = random.Random(seed)
        self.services: list[dict[str, Any]] = _data.make_services()
        self.inboxes: list[dict[str, Any]] = _data.make_inboxes(self._rng)
        self.allowed_contexts: list[str] = list(_data.ALLOWED_CONTEXTS)
        self.voicemail_messages: list[VoicemailMessage] = _data.make_voicemail(
            self._rng, self.inboxes
        )
        self.reports: list[dict[str, Any]] = _data.make_reports(self._rng, reports)
        self.recording_seconds: float = 2.0
        self.latency: float = 0.0
        self._recent: deque[float] = deque()
        self._clock = time.monotonic
        self._routes: dict[tuple[str, str], Callable[..., Any]] = {
            ("POST", "/call-otp"): self._call_otp,
            ("POST", "/click-to-call"): self._click_to_call,
            ("POST", "/secure-call"): self._secure_call,
            ("GET", "/call-reports"): self._call_reports,
            ("GET", "/services"): self._services,
            ("GET", "/voicemail-inboxes"): self._voicemail_inboxes,
            ("GET", "/call-recordings/*"): self._call_recording,
            ("GET", "/voicemail-recordings/*"): self._voicemail_recording,
        }

    def __repr__(self) -> str:
        return (
            f"VoipanoSandbox(credit={self.credit}, reports={len(self.reports)}, "
            f"requests={len(self.requests)})"
        )

    # -- ways in --------------------------------------------------------------------------

    def client(self, **options: Any) -> AsyncVoipano:
        """An ``AsyncVoipano`` wired to this sandbox in process (no sockets).

        ``options`` go to [`AsyncVoipano`][voipano_async.AsyncVoipano] (``max_retries``,
        ``timeout``, ...). HTTP
        timeouts are honoured: a slow answer raises ``APITimeoutError`` as it would over
        the network.
        """
        http = httpx2.AsyncClient(transport=InProcessTransport(self))
        options.setdefault("token", self.token)
        return AsyncVoipano(base_url=IN_PROCESS_URL, http_client=http, **options)

    def sync_client(self, **options: Any) -> Voipano:
        """A blocking ``Voipano`` wired to this sandbox in process (no sockets).

        Close it (``with`` or ``close()``): it runs an event-loop thread.
        """
        http = httpx2.AsyncClient(transport=InProcessTransport(self))
        options.setdefault("token", self.token)
        return Voipano(base_url=IN_PROCESS_URL, http_client=http, **options)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the sandbox over HTTP with uvicorn (asyncio); yields the API base URL.

        Needs the ``sandbox`` extra: ``pip install "voipano-async[sandbox]"``.

        Examples:
            >>> async with sandbox.serve() as base_url:
            ...     client = AsyncVoipano(sandbox.token, base_url=base_url)
        """
        try:
            import uvicorn
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                'serving the sandbox needs uvicorn: pip install "voipano-async[sandbox]"'
            ) from exc
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. Without it, uvicorn's separate writes of
        # headers and body meet the client's delayed ACK: 40 ms added to every answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        bound = sock.getsockname()[1]
        config = uvicorn.Config(
            self,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        quiet = _QuietDrops()
        logging.getLogger("uvicorn.error").addFilter(quiet)
        # A wildcard address is where to listen, not where to connect: the URL names
        # the loopback address of the same family, which a client can reach.
        reachable = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
        shown_host = f"[{reachable}]" if ":" in reachable else reachable
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                # uvicorn offers a flag, not an event, for "listening".
                while not server.started:  # noqa: ASYNC110
                    await anyio.sleep(0.005)
                try:
                    yield f"http://{shown_host}:{bound}{API_PREFIX}"
                finally:
                    server.should_exit = True
        finally:
            logging.getLogger("uvicorn.error").removeFilter(quiet)
            sock.close()

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method = scope["method"]
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        outside = not path.startswith(API_PREFIX + "/")
        if not outside:
            path = path[len(API_PREFIX) :]
        record = RecordedRequest(method=method, path=path, query=query, json=payload)
        self.requests.append(record)
        if outside:
            # Recorded with its full path, so a client with a wrong base URL shows up.
            record.status = 404
            await _send_json(send, 404, {"ok": False, "message": "Not Found"})
            return
        base = f"{scope.get('scheme', 'http')}://{headers.get('host', 'localhost')}{API_PREFIX}"
        exchange = _Exchange(receive, send)
        if self.latency and not await exchange.wait(self.latency):
            return
        await self._handle(record, headers, base, exchange)

    async def _handle(
        self, outcome: RecordedRequest, headers: dict[str, str], base: str, exchange: _Exchange
    ) -> None:
        method, path, query, payload = outcome.method, outcome.path, outcome.query, outcome.json
        send = exchange.send
        segments = path.split("/")
        route_key = path if len(segments) <= 2 else "/".join(segments[:2]) + "/*"
        handler = self._routes.get((method, route_key))
        if handler is None:
            outcome.status = 405 if any(key[1] == route_key for key in self._routes) else 404
            await _send_json(send, outcome.status, {"ok": False, "message": "مسیر یافت نشد."})
            return
        if self._rate_limited():
            outcome.status = 429
            await _send_json(
                send,
                429,
                {"ok": False, "message": "تعداد درخواست‌ها بیش از حد مجاز است."},
                {"Retry-After": "1"},
            )
            return
        if headers.get("authorization") != f"Bearer {self.token}":
            outcome.status = 401
            await _send_json(send, 401, {"ok": False, "message": "توکن نامعتبر است."})
            return

        fault = self.faults.next_for(path)
        if fault is not None:
            outcome.fault = fault.kind
            if not fault.act:
                outcome.status = fault.status
                await _apply_fault(fault, exchange)
                return

        argument = unquote(segments[2]) if len(segments) > 2 else None
        try:
            answer = handler(query=query, payload=payload, base=base, argument=argument)
        except _Answer as refusal:
            # Refused on its own merits: a fault that comes after acting never happens.
            outcome.status, outcome.fault = refusal.status, None
            await _send_json(send, refusal.status, refusal.body, refusal.headers)
            return
        outcome.acted = True
        if fault is not None:
            outcome.status = fault.status
            if fault.truncate:
                if fault.delay and not await exchange.wait(fault.delay):
                    return
                outcome.status = 200
                if isinstance(answer, dict):
                    content = json.dumps(answer, ensure_ascii=False).encode()
                    await _send(send, 200, content[: len(content) // 2], _JSON)
                    return
                # Audio: the headers promise the whole file, half of it comes, then the
                # connection breaks (a download failing midway).
                audio, filename = answer
                await _send_partial(send, audio, filename)
            if fault.status is not None or fault.disconnect:
                await _apply_fault(fault, exchange)
                return
            if fault.delay and not await exchange.wait(fault.delay):
                return
            if fault.drip_seconds and isinstance(answer, dict):
                outcome.status = 200
                content = json.dumps(answer, ensure_ascii=False).encode()
                await _drip(exchange, content, fault.drip_seconds)
                return
        outcome.status = 200
        if isinstance(answer, tuple):
            content, filename = answer
            await _send(send, 200, content, _audio_headers(filename))
        else:
            await _send_json(send, 200, answer)

    def _rate_limited(self) -> bool:
        if self.rate_limit is None:
            return False
        now = self._clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            return True
        self._recent.append(now)
        return False

    # -- endpoints ------------------------------------------------------------------------

    def _charge(self, path: str) -> dict[str, int]:
        price = self.prices[path]
        if self.credit < price:
            raise _Answer(
                402,
                {
                    "ok": False,
                    "error": {
                        "code": "insufficient_credit",
                        "message": "اعتبار حساب برای این درخواست کافی نیست.",
                    },
                },
            )
        self.credit -= price
        return {"charged": price, "unit_price": price, "remaining_credit": self.credit}

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
            "phone_number": _data.mask(phone),
            "purpose": body.get("purpose"),
            "message": "کد تایید ارسال شد.",
        }
        return {"ok": True, "data": data, "billing": billing}

    def _place_call(self, path: str, payload: Any, *, provider: bool) -> dict[str, Any]:
        body = _object(payload)
        errors: dict[str, list[str]] = {}
        numbers = {}
        for field in ("call_source", "call_destination"):
            try:
                numbers[field] = _phone_field(body, field)
            except _Answer as refusal:
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

    def _click_to_call(self, *, payload: Any, **_: Any) -> dict[str, Any]:
        return self._place_call("/click-to-call", payload, provider=True)

    def _secure_call(self, *, payload: Any, **_: Any) -> dict[str, Any]:
        return self._place_call("/secure-call", payload, provider=False)

    def _placed(self, source: str, destination: str, *, has_recording: bool, **extra: Any) -> None:
        """A placed call or OTP shows up at the top of the call reports."""
        report = _data.make_report(
            self._rng,
            source=source,
            destination=destination,
            has_recording=has_recording,
            started=dt.datetime.now(dt.UTC).replace(microsecond=0),
            **extra,
        )
        self.reports.insert(0, report)

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
        data = {
            "endpoint_number": ENDPOINT_NUMBER,
            "items": items,
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "last_page": max(1, -(-total // per_page)),
            },
        }
        return {"ok": True, "data": data, "billing": dict(_FREE)}

    def _services(self, **_: Any) -> dict[str, Any]:
        data = {"items": self.services, "total": len(self.services)}
        return {"ok": True, "data": data, "billing": dict(_FREE)}

    def _voicemail_inboxes(self, *, query: dict[str, str], **_: Any) -> dict[str, Any]:
        context = query.get("context")
        limit = _int_param(query, "limit", 20, minimum=1, maximum=100)
        if context is not None:
            self._check_context(context)
        items = [i for i in self.inboxes if context is None or i["context"] == context]
        data = {"items": items[:limit], "allowed_contexts": self.allowed_contexts}
        return {"ok": True, "data": data, "billing": dict(_FREE)}

    def _check_context(self, context: str) -> None:
        if context not in self.allowed_contexts:
            raise _Answer(403, {"ok": False, "message": "دسترسی به این صندوق صوتی مجاز نیست."})

    def _call_recording(self, *, argument: str | None, **_: Any) -> tuple[bytes, str]:
        for report in self.reports:
            if report["call_details_record_id"] == argument and report["has_recording"]:
                audio = _data.tone_wav(argument, self.recording_seconds)
                return audio, f"recording-{argument}.wav"
        raise _Answer(404, {"ok": False, "message": "فایل صوتی این تماس یافت نشد."})

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
            raise _Answer(404, {"ok": False, "message": "پیام صوتی یافت نشد."})
        audio = _data.tone_wav(wanted.unique_id, self.recording_seconds)
        return audio, f"voicemail-{wanted.unique_id}.wav"


# -- helpers ------------------------------------------------------------------------------

_JSON = {"Content-Type": "application/json"}


def _invalid(errors: dict[str, list[str]]) -> None:
    raise _Answer(422, {"message": "اطلاعات ارسال شده معتبر نیست.", "errors": errors})


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        _invalid({"body": ["بدنه درخواست باید یک شیء JSON باشد."]})
    return payload  # type: ignore[no-any-return]


def _phone_field(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:
        _invalid({field: [f"فیلد {field} الزامی است."]})
    if not isinstance(value, str) or not _PHONE.fullmatch(value):
        _invalid({field: ["شماره تلفن نامعتبر است."]})
    return str(value)


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


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


_CHUNK = 256 * 1024


async def _send(send: Send, status: int, content: bytes, headers: dict[str, str]) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    view = memoryview(content)
    # Large bodies (long recordings) go out in chunks, as a real server streams them.
    for start in range(0, len(content) - _CHUNK, _CHUNK):
        chunk = bytes(view[start : start + _CHUNK])
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    last = (max(0, len(content) - 1) // _CHUNK) * _CHUNK
    await send({"type": "http.response.body", "body": bytes(view[last:])})


async def _send_json(
    send: Send, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    content = json.dumps(body, ensure_ascii=False).encode()
    await _send(send, status, content, {**_JSON, **(headers or {})})


class _Exchange:
    """The ASGI channels of one request."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.receive = receive
        self.send = send

    async def wait(self, seconds: float) -> bool:
        """Sleep; return ``False`` early if the client hung up meanwhile."""
        gone = False
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                nonlocal gone
                while (await self.receive())["type"] != "http.disconnect":
                    pass
                gone = True
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            await anyio.sleep(seconds)
            tg.cancel_scope.cancel()
        return not gone


async def _drip(exchange: _Exchange, content: bytes, seconds: float, pieces: int = 20) -> None:
    """Send a whole answer in ``pieces`` parts spread over ``seconds``; stop if the client goes."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await exchange.send({"type": "http.response.start", "status": 200, "headers": headers})
    size = -(-len(content) // pieces)
    for start in range(0, len(content), size):
        if not await exchange.wait(seconds / pieces):
            return
        more = start + size < len(content)
        part = content[start : start + size]
        await exchange.send({"type": "http.response.body", "body": part, "more_body": more})


async def _apply_fault(fault: Fault, exchange: _Exchange) -> None:
    """Answer with the fault's own status and body, or drop the connection."""
    send = exchange.send
    if fault.delay and not await exchange.wait(fault.delay):
        return
    if fault.disconnect:
        await _drop(send)
    status = fault.status or 500
    if fault.body is not None:
        await _send(send, status, fault.body, {"Content-Type": "text/plain", **fault.headers})
    else:
        await _send_json(send, status, fault.json, dict(fault.headers))


def _audio_headers(filename: str) -> dict[str, str]:
    return {
        "Content-Type": "audio/wav",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Billing-Charged": "0",
    }


async def _send_partial(send: Send, audio: bytes, filename: str) -> NoReturn:
    headers = [(k.lower().encode(), v.encode()) for k, v in _audio_headers(filename).items()]
    headers.append((b"content-length", str(len(audio)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": audio[: len(audio) // 2], "more_body": True})
    raise DroppedConnection("the sandbox broke the download off (injected fault)")


async def _drop(send: Send) -> NoReturn:
    # Promise a body, send none of it, and fail: the server closes the connection and the
    # client sees it broken off, as after a crash or a network fault.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    raise DroppedConnection("the sandbox dropped the connection (injected fault)")


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for every injected dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


class InProcessTransport(httpx2.AsyncBaseTransport):
    """Sends requests straight into the sandbox app, the way the network would answer.

    Injected dropped connections become ``httpx2.RemoteProtocolError`` and an answer
    slower than the request's read timeout becomes ``httpx2.ReadTimeout``, as over a socket.
    """

    def __init__(self, sandbox: VoipanoSandbox) -> None:
        self._asgi = httpx2.ASGITransport(app=sandbox)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            with anyio.fail_after(timeout):
                return await self._asgi.handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx2.RemoteProtocolError(
                "server disconnected without sending a complete response", request=request
            ) from exc
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("timed out waiting for the answer", request=request) from exc
