"""A tiny HTTP/1.1 server on loopback for the few tests that need real sockets."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.tls import TLSListener

# A handler gets the request head (request line and headers, as text) and the stream to
# write its answer to; the connection is closed after each answer.
Handler = Callable[[str, anyio.abc.SocketStream], Awaitable[None]]


def head(
    status: int, headers: dict[str, str] | None = None, *, length: int | None = None
) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@asynccontextmanager
async def serve(
    handler: Handler, *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve on 127.0.0.1; yields the base URL and the list of request heads received.

    With ``tls``, the server speaks HTTPS and the URL names ``localhost``.
    """
    received: list[str] = []
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)
    listener: anyio.abc.Listener[Any] = (
        tcp if tls is None else TLSListener(tcp, tls, standard_compatible=False)
    )
    origin = f"http://127.0.0.1:{port}" if tls is None else f"https://localhost:{port}"

    async def handle(stream: Any) -> None:
        async with stream:
            buffered = BufferedByteReceiveStream(stream)
            try:
                raw = await buffered.receive_until(b"\r\n\r\n", 65536)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
                return
            text = raw.decode("latin-1")
            length = 0
            for line in text.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                await buffered.receive_exactly(length)
            received.append(text)
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await handler(text, stream)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        try:
            yield origin, received
        finally:
            tg.cancel_scope.cancel()
