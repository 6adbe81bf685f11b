"""One request on the wire: what the sandbox received, and every way it answers.

An answer goes out whole (in chunks when large), trickled over some seconds, cut off
midway or not at all (a dropped connection), always through ASGI messages, so the same
bytes reach a client in process and over a socket.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn

import anyio
import attrs

from ._vendor import audio_headers

__all__ = [
    "Answer",
    "DroppedConnection",
    "Exchange",
    "Message",
    "Receive",
    "RecordedRequest",
    "Scope",
    "Send",
    "read_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# An answer is either a JSON document or a download: its audio and its file name.
Answer = dict[str, Any] | tuple[bytes, str]

# Audio bytes (named here: ``Exchange.bytes`` hides the type in the class), and a
# download as sent: status, body and headers.
Audio = bytes
Download = tuple[int, bytes, dict[str, str]]

_JSON = {"Content-Type": "application/json"}
_CHUNK = 256 * 1024
# The one form of Range a client resuming a download asks with: from a byte to the end.
_RANGE = re.compile(r"bytes=(?P<start>[0-9]+)-")


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
        request_id: The id the sandbox gave the request, sent back in every answer's
            ``X-Request-Id`` header (a client's ``meta.request_id``).
        headers: The request's headers, names in lower case, ``authorization`` left out.
        account: The token the request carried (its ``Bearer``), to tell accounts apart;
            ``None`` without one. Not in the repr.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int | None = None
    acted: bool = False
    fault: str | None = None
    request_id: str | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    account: str | None = attrs.field(default=None, repr=False)


class DroppedConnection(Exception):
    """Raised by the app to make the server close the connection without a full answer."""


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _encode(body: Any) -> bytes:
    # Persian messages go out as UTF-8, as the vendor's Laravel sends them.
    return json.dumps(body, ensure_ascii=False).encode()


def _raw_headers(headers: dict[str, str], length: int) -> list[tuple[bytes, bytes]]:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(length).encode()))
    return raw


class Exchange:
    """The ASGI channels of one request, with its record, and the ways to answer it."""

    def __init__(
        self,
        receive: Receive,
        send: Send,
        record: RecordedRequest,
        audio_headers: Callable[[str], dict[str, str]] = audio_headers,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.receive = receive
        self.send = send
        self.record = record
        # The request's headers, lower-cased: a download honours Range and If-Range.
        self.headers = headers or {}
        # The headers of a download named by the file name: the vendor's, or a dialect's.
        self.audio_headers = audio_headers

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

    async def start(self, status: int, headers: dict[str, str], length: int) -> None:
        raw = _raw_headers(headers, length)
        if self.record.request_id is not None:
            raw.append((b"x-request-id", self.record.request_id.encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def bytes(self, status: int, content: bytes, headers: dict[str, str]) -> None:
        """Answer ``content`` whole; a large one goes in chunks, as a server streams it."""
        self.record.status = status
        await self.start(status, headers, len(content))
        view = memoryview(content)
        for start in range(0, len(content) - _CHUNK, _CHUNK):
            chunk = bytes(view[start : start + _CHUNK])
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        last = (max(0, len(content) - 1) // _CHUNK) * _CHUNK
        await self.send({"type": "http.response.body", "body": bytes(view[last:])})

    async def json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        await self.bytes(status, _encode(body), {**_JSON, **(headers or {})})

    async def answer(self, answer: Answer) -> None:
        """Send a handler's answer as it is: a JSON document, or a download."""
        if isinstance(answer, tuple):
            await self.bytes(*self.download(*answer))
        else:
            await self.json(200, answer)

    def download(self, audio: Audio, filename: str) -> Download:
        """A download's status, body and headers, as a file server sends them.

        ``Range: bytes=N-`` gets ``206`` and the file from byte N (``416`` past its end),
        unless ``If-Range`` names another version; the ``ETag`` names this one.
        """
        # A recording never changes: its name and size name its version (hashing the
        # bytes would cost the served sandbox ~0.1 s per 200 MB file).
        tag = f'"{len(audio):x}-{zlib.crc32(filename.encode()):08x}"'
        headers = {**self.audio_headers(filename), "Accept-Ranges": "bytes", "ETag": tag}
        wanted = _RANGE.fullmatch(self.headers.get("range", "").strip())
        if wanted is None or self.headers.get("if-range", tag) != tag:
            return 200, audio, headers
        start = int(wanted["start"])
        if start >= len(audio):
            return 416, b"", {**headers, "Content-Range": f"bytes */{len(audio)}"}
        headers["Content-Range"] = f"bytes {start}-{len(audio) - 1}/{len(audio)}"
        return 206, audio[start:], headers

    async def half(self, answer: Answer) -> None:
        """Send half of the answer: JSON cut short, or a download broken off midway."""
        if isinstance(answer, tuple):
            # The headers promise the whole file (or the part asked for), half of it
            # comes, then the connection breaks: a download failing midway.
            status, body, headers = self.download(*answer)
            self.record.status = status
            await self.start(status, headers, len(body))
            part = body[: len(body) // 2]
            await self.send({"type": "http.response.body", "body": part, "more_body": True})
            raise DroppedConnection("the sandbox broke the download off (injected fault)")
        self.record.status = 200
        content = _encode(answer)
        await self.bytes(200, content[: len(content) // 2], _JSON)

    async def drip(self, answer: dict[str, Any], seconds: float, pieces: int = 20) -> None:
        """Send ``answer`` in ``pieces`` parts spread over ``seconds``; stop if the client goes."""
        self.record.status = 200
        content = _encode(answer)
        await self.start(200, _JSON, len(content))
        size = -(-len(content) // pieces)
        for start in range(0, len(content), size):
            if not await self.wait(seconds / pieces):
                return
            more = start + size < len(content)
            part = content[start : start + size]
            await self.send({"type": "http.response.body", "body": part, "more_body": more})

    async def drop(self) -> NoReturn:
        """Send a bare head promising a body, then close the connection.

        The client sees the answer broken off, as after a crash or a network fault. The
        head says nothing of what was coming (no content type): a served sandbox cannot
        close a connection before any head (uvicorn answers 500 for an app that fails
        first), so in process it comes too, and the two fail the same way.
        """
        await self.start(200, {}, 4096)
        raise DroppedConnection("the sandbox dropped the connection (injected fault)")
