"""Reading an answer's body within a bound, decompressing it ourselves.

httpx2 inflates each compressed chunk whole: a few KiB of gzip can become hundreds of MiB
before a caller's size check sees it. Here the raw bytes are read and inflated with a cap
on the output, so no answer can take more memory than its bound.
"""

from __future__ import annotations

import zlib
from contextlib import aclosing

import anyio
import httpx2

__all__ = [
    "ACCEPT_ENCODING",
    "BodyError",
    "BodyTooLarge",
    "WholeBody",
    "read_body",
    "with_body",
]

# What we ask for, and so what we know how to inflate within a bound.
ACCEPT_ENCODING = "gzip, deflate"


class BodyError(Exception):
    """The body could not be decoded (a broken or unsupported content encoding)."""


class BodyTooLarge(BodyError):
    """The decoded body is larger than the bound."""


class WholeBody(httpx2.AsyncByteStream):
    """A body its transport can hand over whole in one read (``DefaultAioHttpClient``'s)."""

    async def read_whole(self) -> bytes:
        """The whole body, as sent; the stream is closed on return (its connection freed)."""
        raise NotImplementedError


class _Inflate:
    """One ``gzip`` or ``deflate`` layer, inflating at most ``room`` bytes per call."""

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in {"gzip", "x-gzip"}
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._started = False

    def decode(self, data: bytes, room: int) -> bytes:
        """Inflate ``data``; more than ``room`` bytes out means the bound was passed."""
        try:
            out = self._obj.decompress(data, room + 1)
        except zlib.error:
            if self._gzip or self._started:
                raise
            # "deflate" is sometimes sent without its zlib header (httpx accepts both).
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._obj.decompress(data, room + 1)
        self._started = True
        return out


def _layer(content_encoding: str | None) -> _Inflate | None:
    """The one coding to undo; stacked codings ("gzip, gzip") are not something we asked for."""
    names = [n.strip().lower() for n in (content_encoding or "").split(",")]
    names = [n for n in names if n and n != "identity"]
    if not names:
        return None
    if len(names) > 1 or names[0] not in {"gzip", "x-gzip", "deflate"}:
        raise BodyError(f"unsupported content encoding {content_encoding!r}")
    return _Inflate(names[0])


def _plain_length(headers: httpx2.Headers) -> int | None:
    """The announced size of a body sent as is (one ``Content-Length``, no coding), or None.

    One pass over the raw headers: two look-ups, one of them failing, cost more.
    """
    length: bytes | None = None
    coded = False
    for key, value in headers.raw:
        key = key.lower()
        if key == b"content-length":
            if length is not None:
                return None
            length = value
        elif key == b"content-encoding":
            if coded or value.strip().lower() != b"identity":
                return None
            coded = True
    return int(length) if length is not None and length.isdigit() else None


async def read_body(response: httpx2.Response, limit: int, *, truncate: bool) -> bytes:
    """The decoded body, at most ``limit`` bytes; the response is closed on return.

    With ``truncate`` (error bodies) the first ``limit`` bytes are kept and a body that
    breaks off or cannot be inflated keeps what arrived; without it a larger body raises
    ``BodyTooLarge`` and a broken one ``BodyError``.
    """
    if response.is_stream_consumed:
        # A transport may hand over a response it has read already (a cache, a mock):
        # its body is decoded and in memory, and only its size is left to check.
        read = response.content
        await response.aclose()
        if len(read) > limit and not truncate:
            raise BodyTooLarge(f"the answer is larger than {limit:,} bytes")
        return read[:limit]
    stream = response.stream
    length = None if truncate else _plain_length(response.headers)
    if length is not None and length <= limit and isinstance(stream, WholeBody):
        # aiohttp's: read in one call, which frees the connection itself (nothing is left
        # to close, so no shield and no wait).
        content = await stream.read_whole()
        response.is_stream_consumed = response.is_closed = True
        return content
    if length is not None and length <= limit and isinstance(stream, httpx2.AsyncByteStream):
        # The common case: a plain body of announced size within the bound. The HTTP
        # layer refuses a body longer than announced, so reading it whole is safe; with
        # nothing to decode, straight from the stream (httpx2's decoder and chunker
        # layers cost more than the read).
        parts: list[bytes] = []
        try:
            async for part in stream:
                parts.append(part)
            response.is_stream_consumed = True
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()
        return parts[0] if len(parts) == 1 else b"".join(parts)
    chunks: list[bytes] = []
    size = 0
    try:
        layer = _layer(response.headers.get("content-encoding"))
        async with aclosing(response.aiter_raw()) as raw:
            async for chunk in raw:
                if layer is not None:
                    chunk = layer.decode(chunk, limit - size)
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    if truncate:
                        break
                    raise BodyTooLarge(f"the answer is larger than {limit:,} bytes")
    except (zlib.error, BodyError) as exc:
        if not truncate:
            if isinstance(exc, BodyError):
                raise
            raise BodyError(f"the compressed answer is broken ({exc})") from exc
    except httpx2.TransportError:
        if not truncate:
            raise
        # An error body that broke off is still worth what arrived.
    finally:
        with anyio.CancelScope(shield=True):
            await response.aclose()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body[:limit] if size > limit else body


def with_body(response: httpx2.Response, content: bytes) -> httpx2.Response:
    """A copy of a (closed) response carrying the body we read, for error objects."""
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
    ]
    try:
        request: httpx2.Request | None = response.request
    except RuntimeError:  # a response made by hand, as decode_result's callers may
        request = None
    return httpx2.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=request,
        extensions=response.extensions,
    )
