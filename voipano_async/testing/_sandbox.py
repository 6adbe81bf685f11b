"""``VoipanoSandbox``: a faithful, stateful emulator of the Voipano webservice (ASGI).

This module is the app: its state, the ways in (in process, over uvicorn), and the
routing of each request through the checks every endpoint shares (path, rate limit,
token, faults) to its handler in ``_endpoints``.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx2

from voipano_async import AsyncVoipano, Voipano

from . import _data, _vendor
from ._data import VoicemailMessage
from ._endpoints import ROUTES, Endpoints, Refusal
from ._faults import Faults
from ._inject import answer_with_fault, refuse_with_fault
from ._inprocess import IN_PROCESS_URL, InProcessTransport
from ._php import DIALECTS, php_answer, php_audio_headers
from ._serve import serve
from ._vendor import API_PREFIX, PRICES, audio_headers
from ._wire import Exchange, Receive, RecordedRequest, Scope, Send, read_body

__all__ = ["VoipanoSandbox"]


class VoipanoSandbox(Endpoints):
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
        dialect: ``"published"`` (the default) answers exactly as the vendor's samples;
            ``"php"`` answers as a PHP/Laravel server drifts from them, without loss:
            numbers as strings (``"160.00"``, ``"1"``), booleans as ``1``/``0``, page
            counts as floats (``4.0``), ids as numbers, ``[]`` for an empty object,
            ``{}`` for an empty list, Symfony's download headers. Run your own code
            against it to see that it copes (see Testing with the sandbox).

    Attributes:
        token: The accepted token: the main account's, whose credit is ``credit``.
        accounts: The other accounts it accepts, token to credit left (see
            [`add_account`][voipano_async.testing.VoipanoSandbox.add_account]).
        dialect: How it answers: ``"published"`` or ``"php"``.
        credit: The credit left now.
        prices: The price of each charged path (``"/call-otp"``: 160, ...), the vendor's
            published ones; change them to play a price rise.
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
        in_flight: How many requests the sandbox is answering right now. Once a client
            is done, nothing it sent should still be in flight.
        most_in_flight: The most requests it has answered at once; set it to 0 to
            measure afresh. Shows, say, whether a pool let ``n`` requests run side by side.

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
        dialect: str = "published",
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}")
        self.token: str = token
        self.dialect: str = dialect
        self.credit: int = credit
        self.accounts: dict[str, int] = {}
        self._account: str = token
        self.rate_limit: float | None = rate_limit
        self.requests: list[RecordedRequest] = []
        self.faults: Faults = Faults()
        self.prices: dict[str, int] = dict(PRICES)
        self._rng = random.Random(seed)
        # Its own generator: the data made from ``seed`` is the same with or without it.
        self._ids = random.Random(f"request-ids-{seed}")
        self.services: list[dict[str, Any]] = _data.make_services()
        self.inboxes: list[dict[str, Any]] = _data.make_inboxes(self._rng)
        self.allowed_contexts: list[str] = list(_vendor.ALLOWED_CONTEXTS)
        self.voicemail_messages: list[VoicemailMessage] = _data.make_voicemail(
            self._rng, self.inboxes
        )
        self.reports: list[dict[str, Any]] = _data.make_reports(self._rng, reports)
        self.recording_seconds: float = 2.0
        self.latency: float = 0.0
        self.in_flight: int = 0
        self.most_in_flight: int = 0
        self._recent: deque[float] = deque()
        self._clock = time.monotonic

    def __repr__(self) -> str:
        dialect = "" if self.dialect == "published" else f", dialect={self.dialect!r}"
        return (
            f"VoipanoSandbox(credit={self.credit}, reports={len(self.reports)}, "
            f"requests={len(self.requests)}{dialect})"
        )

    def add_account(self, token: str, *, credit: int = 10_000) -> None:
        """Accept another account's token, with credit of its own.

        A service acting for many accounts (one client, a copy per account through
        ``with_options(token=...)``) can be tested against one sandbox: each charged call
        is paid from the credit of the account whose token it carried, and
        ``RecordedRequest.account`` says which that was. The rate limit is the sandbox's,
        shared by every account.

        Examples:
            >>> sandbox.add_account("tenant-b", credit=500)
            >>> async with sandbox.client() as client:
            ...     await client.with_options(token="tenant-b").call_otp("09123456789")
            >>> sandbox.accounts["tenant-b"], sandbox.credit
            (340, 10000)
        """
        if token == self.token:
            raise ValueError("that token is the sandbox's main account already")
        self.accounts[token] = credit

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
        async with serve(self, host, port, API_PREFIX) as base_url:
            yield base_url

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self._receive(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _receive(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            payload: Any = json.loads(body) if body else None
        except ValueError:
            payload = body.decode("utf-8", "replace")
        outside = not path.startswith(API_PREFIX + "/")
        if not outside:
            path = path[len(API_PREFIX) :]
        request_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        authorization = headers.get("authorization", "")
        record = RecordedRequest(
            method=scope["method"],
            path=path,
            query=query,
            json=payload,
            request_id=request_id,
            headers={k: v for k, v in headers.items() if k != "authorization"},
            account=authorization.removeprefix("Bearer ") if authorization else None,
        )
        self.requests.append(record)
        speaks_php = self.dialect == "php"
        exchange = Exchange(
            receive, send, record, php_audio_headers if speaks_php else audio_headers, headers
        )
        if outside:
            # Recorded with its full path, so a client with a wrong base URL shows up.
            await exchange.json(404, {"ok": False, "message": "Not Found"})
            return
        base = f"{scope.get('scheme', 'http')}://{headers.get('host', 'localhost')}{API_PREFIX}"
        if self.latency and not await exchange.wait(self.latency):
            return
        await self._handle(exchange, headers, base)

    async def _handle(self, exchange: Exchange, headers: dict[str, str], base: str) -> None:
        record = exchange.record
        segments = record.path.split("/")
        route_key = record.path if len(segments) <= 2 else "/".join(segments[:2]) + "/*"
        handler_name = ROUTES.get((record.method, route_key))
        if handler_name is None:
            status = 405 if any(key[1] == route_key for key in ROUTES) else 404
            await exchange.json(status, {"ok": False, "message": "مسیر یافت نشد."})
            return
        if self._rate_limited():
            await exchange.json(
                429,
                {"ok": False, "message": "تعداد درخواست‌ها بیش از حد مجاز است."},
                {"Retry-After": "1"},
            )
            return
        if headers.get("authorization") != f"Bearer {record.account}" or not (
            record.account == self.token or record.account in self.accounts
        ):
            await exchange.json(401, {"ok": False, "message": "توکن نامعتبر است."})
            return
        self._account = record.account

        fault = self.faults.next_for(record.path)
        if fault is not None:
            record.fault = fault.kind
            if not fault.act:
                await refuse_with_fault(fault, exchange)
                return

        argument = unquote(segments[2]) if len(segments) > 2 else None
        handler = getattr(self, handler_name)
        try:
            answer = handler(query=record.query, payload=record.json, base=base, argument=argument)
        except Refusal as refusal:
            # Refused on its own merits: a fault that comes after acting never happens.
            record.fault = None
            await exchange.json(refusal.status, refusal.body, refusal.headers)
            return
        record.acted = True
        if self.dialect == "php" and isinstance(answer, dict):
            answer = php_answer(answer)
        if fault is None:
            await exchange.answer(answer)
        else:
            await answer_with_fault(fault, answer, exchange)

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
