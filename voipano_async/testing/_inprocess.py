"""Reaching the sandbox in process: an httpx2 transport with no sockets (asyncio and trio).

It runs the sandbox's ASGI app as a server would and hands the client what a socket would
carry: the head, the body as sent, and a broken connection where the app broke it off. A
fault therefore reads the same in process as over HTTP from ``voipano sandbox``: a
dropped connection after the head fails the body, a download cut midway delivers its
first half, then fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from ._vendor import API_PREFIX
from ._wire import DroppedConnection, Message

if TYPE_CHECKING:
    from ._sandbox import VoipanoSandbox

__all__ = ["IN_PROCESS_URL", "InProcessTransport"]

# A host that can never resolve: a request that leaves the process fails loudly.
IN_PROCESS_URL = "https://sandbox.voipano.invalid" + API_PREFIX


class _Body(httpx2.AsyncByteStream):
    """The body as the app sent it; then the failure a socket would have shown, if any."""

    def __init__(self, parts: list[bytes], failure: httpx2.TransportError | None) -> None:
        self._parts = parts
        self._failure = failure

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part
        if self._failure is not None:
            raise self._failure


class InProcessTransport(httpx2.AsyncBaseTransport):
    """Sends requests straight into the sandbox app, the way the network would answer.

    A connection the app drops arrives as ``httpx2.RemoteProtocolError``, and a wait for
    the app's next message (the head, or the next part of the body) longer than the
    request's read timeout as ``httpx2.ReadTimeout``: at once when no head had come,
    while the body is read when it had, as over a socket.
    """

    def __init__(self, sandbox: VoipanoSandbox) -> None:
        self._app = sandbox

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer ``request`` from the sandbox, failing as a socket would."""
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "server": (url.host, url.port),
            "client": ("127.0.0.1", 123),
            "root_path": "",
        }
        body = await request.aread()
        read_timeout = request.extensions.get("timeout", {}).get("read")
        sent_body = False
        complete = anyio.Event()
        head: Message | None = None
        parts: list[bytes] = []
        last = anyio.current_time()

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if sent_body:
                # The client hangs up once it has the whole answer.
                await complete.wait()
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal head, last
            last = anyio.current_time()
            if message["type"] == "http.response.start":
                head = message
            elif message["type"] == "http.response.body":
                if message.get("body") and request.method != "HEAD":
                    parts.append(message["body"])
                if not message.get("more_body", False):
                    complete.set()

        failure: httpx2.TransportError | None = None
        app_scope = anyio.CancelScope()

        async def watch(read_timeout: float) -> None:
            # The socket's read timeout: the longest wait for the app's next message.
            nonlocal failure
            while True:
                due = last + read_timeout
                await anyio.sleep_until(due)
                if last + read_timeout <= due:  # nothing came meanwhile
                    break
            failure = httpx2.ReadTimeout("timed out waiting for the answer", request=request)
            app_scope.cancel()

        try:
            async with anyio.create_task_group() as watching:
                if read_timeout is not None:
                    watching.start_soon(watch, read_timeout)
                with app_scope:
                    try:
                        await self._app(scope, receive, send)
                    except DroppedConnection:
                        failure = httpx2.RemoteProtocolError(
                            "peer closed connection without sending complete message body",
                            request=request,
                        )
                watching.cancel_scope.cancel()
        finally:
            complete.set()
        if head is None:
            if isinstance(failure, httpx2.ReadTimeout):
                raise failure
            raise httpx2.RemoteProtocolError(
                "server disconnected without sending a response", request=request
            )
        return httpx2.Response(
            head["status"],
            headers=head.get("headers", []),
            stream=_Body(parts, failure),
            request=request,
        )
