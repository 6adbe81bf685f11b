"""Recordings, streamed: never read whole into memory, never left half-written on disk."""

from __future__ import annotations

import contextlib
import decimal
import os
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
import httpx2

from . import _config
from ._exceptions import APIConnectionError, APITimeoutError
from ._files import commit_partial, discard_partial, partial_path
from ._models import NO_META, ResponseMeta
from ._taskgroup import FirstErrorGroup
from ._transport import StreamHandle, iter_chunks

__all__ = ["AudioStream", "AudioStreamContext", "safe_filename"]

StrPath = str | os.PathLike[str]

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
# File systems allow 255 bytes a name; the temporary ".NAME.XXXXXXXX.part" beside it
# takes 15 more, so a name from the server is kept within 200 bytes of UTF-8.
_MAX_NAME_BYTES = 200
# Names Windows refuses whatever their extension.
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)


def _filename_from_header(header: str | None) -> str | None:
    """The file name ``Content-Disposition`` gives: ``filename*`` first (RFC 6266).

    Symfony sends both, ``filename=`` an ASCII stand-in for the ``filename*=UTF-8''…``
    that is the real name.
    """
    if not header:
        return None
    message = Message()
    try:
        message["content-disposition"] = header
        # RFC 2231 values (``filename*``) come as (charset, language, text) tuples.
        params: list[tuple[str, Any]] = message.get_params(header="content-disposition") or []
        names = [value for key, value in params[1:] if key.lower() == "filename"]
        extended = [value for value in names if isinstance(value, tuple)]
        if extended:
            return collapse_rfc2231_value(extended[0], errors="replace") or None
        name = next((value for value in names if isinstance(value, str)), None)
    except Exception:  # a hostile header must not break the download
        return None
    if not name:
        return None
    # httpx decodes headers as latin-1; a raw UTF-8 name (Persian, say) is recovered.
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        name = name.encode("latin-1").decode("utf-8")
    return name


def _clean(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if name.split(".")[0].upper() in _RESERVED:
        name = f"_{name}"
    if len(name.encode("utf-8")) > _MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        if not (dot and 0 < len(suffix.encode("utf-8")) <= 10):
            stem, suffix = name, ""
        tail = f".{suffix}" if suffix else ""
        room = _MAX_NAME_BYTES - len(tail.encode("utf-8"))
        # Cut on a character boundary: a Persian letter is two bytes.
        stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip()
        name = stem + tail
    return name


def safe_filename(content_disposition: str | None, fallback: str) -> str:
    """A file name from ``Content-Disposition`` that cannot leave the target directory.

    Path parts, control characters and leading dots are removed; when nothing usable is
    left, ``fallback`` (cleaned the same way) is used.
    """
    name = _clean(_filename_from_header(content_disposition) or "")
    return name or _clean(fallback) or "recording.wav"


_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _parse_charged(value: str | None) -> int | None:
    """``X-Billing-Charged`` as a whole number of credit units: ``"0"``, ``"0.00"``, ``"160.0"``.

    Laravel writes a DECIMAL column as ``"0.00"``; a value that is not a whole number
    0 or more is no charge the SDK can report (``None``).
    """
    if value is None or not _AMOUNT.fullmatch(value.strip()):
        return None
    amount = decimal.Decimal(value.strip())
    return int(amount) if amount == amount.to_integral_value() else None


class AudioStream:
    """An audio file being streamed from the API.

    Get one inside ``async with`` from
    [`stream_call_recording`][voipano_async.AsyncVoipano.stream_call_recording] or
    [`stream_voicemail_recording`][voipano_async.AsyncVoipano.stream_voicemail_recording].

    Attributes:
        filename: A safe file name, from ``Content-Disposition`` or made from the id.
        content_type: E.g. ``"audio/wav"``.
        content_length: The size in bytes, when the server says.
        charged: Credit charged for the download (``X-Billing-Charged``), when sent.
        response: The underlying ``httpx2.Response``.
        meta: How the answer came back: status, headers, request id, attempts
            ([`ResponseMeta`][voipano_async.ResponseMeta]); ``elapsed`` runs to the headers.
    """

    def __init__(
        self,
        response: httpx2.Response,
        *,
        fallback_name: str,
        meta: ResponseMeta = NO_META,
        handle: StreamHandle | None = None,
    ) -> None:
        self.response: httpx2.Response = response
        self.meta: ResponseMeta = meta
        self._handle = handle
        headers = response.headers
        self.filename: str = safe_filename(headers.get("content-disposition"), fallback_name)
        self.content_type: str | None = headers.get("content-type")
        length = headers.get("content-length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None
        self.charged: int | None = _parse_charged(headers.get("x-billing-charged"))

    def __repr__(self) -> str:
        return (
            f"AudioStream(filename={self.filename!r}, content_type={self.content_type!r}, "
            f"content_length={self.content_length!r})"
        )

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncGenerator[bytes, None]:
        """Yield the audio in chunks as it arrives.

        A download that breaks off (the connection drops, a read times out) is asked for
        again within the client's retry policy, from where it broke off when the server
        honours ``Range``, and the chunks go on where they stopped: no byte is yielded
        twice or missed. ``meta.attempts`` counts the attempts.

        Raises:
            APIConnectionError: The download kept breaking off until the retry policy
                gave up, or the server's answer to a retry was not the same file.
            APITimeoutError: As ``APIConnectionError``, when the last attempt timed out.
        """
        received = skip = 0
        while True:
            try:
                async with aclosing(iter_chunks(self.response, chunk_size)) as chunks:
                    async for chunk in chunks:
                        if skip:
                            # A server that ignored Range sent the file from its start.
                            if len(chunk) <= skip:
                                skip -= len(chunk)
                                continue
                            chunk, skip = chunk[skip:], 0
                        received += len(chunk)
                        yield chunk
                return
            except httpx2.TransportError as exc:
                broke = self._broke_off(exc)
                resumed = await self._resume(broke, received)
                if resumed is None:
                    raise broke from exc
                skip = resumed
            except httpx2.HTTPError as exc:
                broke = self._broke_off(exc)
                if self._handle is not None and self._handle.resumer is not None:
                    self._handle.resumer.context(broke)
                raise broke from exc

    def _broke_off(self, exc: httpx2.HTTPError) -> APIConnectionError:
        if isinstance(exc, httpx2.TimeoutException):
            return APITimeoutError(f"the download of {self.filename} timed out: {exc}")
        return APIConnectionError(
            f"the download of {self.filename} broke off: {exc or type(exc).__name__}"
        )

    async def _resume(self, broke: APIConnectionError, received: int) -> int | None:
        """Ask again for the rest; how many bytes of the new answer to skip, or ``None``."""
        handle = self._handle
        if handle is None or handle.resumer is None:
            return None
        resumer = handle.resumer
        resumed = await resumer.resume(broke, received, handle.record)
        if resumed is None:
            resumer.context(broke)
            return None
        self.response, skip, self.meta = resumed
        handle.response, handle.meta = self.response, self.meta
        return skip

    async def read(self) -> bytes:
        """Read the whole file into memory.

        Prefer [`save`][voipano_async.AudioStream.save] for large files.
        """
        parts = []
        async with aclosing(self.aiter_bytes()) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
        return b"".join(parts)

    async def save(self, dest: StrPath) -> Path:
        """Stream the file to disk and return the path written.

        ``dest`` is a directory (the file gets ``filename``) or a file path (replaced if
        it exists). The data goes to a temporary file beside the target, renamed into place
        only once complete: a failed or cancelled download leaves no file behind.
        """
        target = await anyio.to_thread.run_sync(_resolve_target, dest, self.filename)
        partial = partial_path(target)
        file: BinaryIO = await anyio.to_thread.run_sync(partial.open, "xb")
        try:
            await self._write_overlapped(file)
            await anyio.to_thread.run_sync(file.close)
            await anyio.to_thread.run_sync(commit_partial, partial, target)
        except BaseException:
            discard_partial(file, partial)
            raise
        return target

    async def _write_overlapped(self, file: BinaryIO) -> None:
        """Read the body and write it in batches from a worker thread, at the same time.

        The socket keeps being read while the previous batch is written, so a download
        runs at the speed of the slower of the two rather than of both added up, and a
        slow disk never blocks the event loop.
        """
        send, receive = anyio.create_memory_object_stream[list[bytes]](max_buffer_size=2)

        async def write_batches() -> None:
            async with receive:
                async for batch in receive:
                    await anyio.to_thread.run_sync(_write_joined, file, batch)

        # A full disk stops the download, a broken download stops the writes: either way
        # the caller gets that one error.
        async with FirstErrorGroup() as group:
            group.start_soon(write_batches)
            async with send:
                batch: list[bytes] = []
                size = 0
                async with aclosing(self.aiter_bytes()) as chunks:
                    async for chunk in chunks:
                        batch.append(chunk)
                        size += len(chunk)
                        if size >= _config.DOWNLOAD_WRITE_BATCH:
                            await send.send(batch)
                            batch, size = [], 0
                if batch:
                    await send.send(batch)


def _resolve_target(dest: StrPath, filename: str) -> Path:
    text = os.fspath(dest)
    path = Path(text)
    if text.endswith(("/", os.sep)) or (os.altsep and text.endswith(os.altsep)):
        # "recordings/" names a directory, whether or not it exists yet.
        path.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        return path / filename
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(f"{str(parent)!r} is a file, not a directory")
    if not parent.is_dir():
        raise FileNotFoundError(f"the directory {str(parent)!r} does not exist")
    return path


class AudioStreamContext:
    """``async with`` this to get an audio stream; leaving closes the connection.

    It gives an [`AudioStream`][voipano_async.AudioStream].
    """

    def __init__(
        self, opener: Callable[[], Awaitable[StreamHandle]], *, fallback_name: str
    ) -> None:
        self._opener = opener
        self._fallback_name = fallback_name
        self._handle: StreamHandle | None = None

    async def __aenter__(self) -> AudioStream:
        if self._handle is not None:
            raise RuntimeError("this stream is already open; use a new stream_* call")
        self._handle = await self._opener()
        handle = self._handle
        return AudioStream(
            handle.response, fallback_name=self._fallback_name, meta=handle.meta, handle=handle
        )

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self._handle is not None:
            await self._handle.aclose(exc)


def _write_joined(file: BinaryIO, batch: list[bytes]) -> None:
    # One write per batch: the worker thread gives up and takes back the GIL once per
    # batch, not once per network chunk (``writelines`` measured slower: it waits for the
    # GIL after every chunk's write while the event loop holds it).
    file.write(b"".join(batch))
