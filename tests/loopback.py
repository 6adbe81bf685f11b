"""A tiny HTTP/1.1 server on loopback for the few tests that need real sockets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

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
async def serve(handler: Handler) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve on 127.0.0.1; yields the base URL and the list of request heads received."""
    received: list[str] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream: anyio.abc.SocketStream) -> None:
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
            yield f"http://127.0.0.1:{port}", received
        finally:
            tg.cancel_scope.cancel()
