"""The blocking twins of what an endpoint method can return besides a result.

A pager becomes a ``CallReportIterator`` (``for``, not ``async for``), a stream context a
``StreamContextSync`` giving an ``AudioStreamSync``; each runs its steps on the blocking
client's loop thread (``_loop.Runner``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ._loop import Runner
from ._models import CallReport, CallReportsPage
from ._pager import CallReportPager
from ._streams import AudioStream, AudioStreamContext, StrPath

__all__ = ["AudioStreamSync", "CallReportIterator", "StreamContextSync"]


class AudioStreamSync:
    """A recording being streamed, for the blocking client.

    The blocking twin of [`AudioStream`][voipano_async.AudioStream].

    Attributes:
        filename: A safe file name, from ``Content-Disposition`` or made from the id.
        content_type: E.g. ``"audio/wav"``.
        content_length: The size in bytes, when the server says.
        charged: Credit charged for the download (``X-Billing-Charged``), when sent.
    """

    def __init__(self, stream: AudioStream, runner: Runner) -> None:
        self._stream = stream
        self._runner = runner
        self.filename: str = stream.filename
        self.content_type: str | None = stream.content_type
        self.content_length: int | None = stream.content_length
        self.charged: int | None = stream.charged

    def __repr__(self) -> str:
        return repr(self._stream).replace("AudioStream(", "AudioStreamSync(", 1)

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the audio in chunks as it arrives."""
        chunks = self._stream.aiter_bytes(chunk_size)
        try:
            while True:
                try:
                    yield self._runner.run(chunks.__anext__)
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(chunks.aclose)

    def read(self) -> bytes:
        """Read the whole file into memory.

        Prefer [`save`][voipano_async.AudioStreamSync.save] for large files.
        """
        return self._runner.run(self._stream.read)

    def save(self, dest: StrPath) -> Path:
        """Stream the file to disk atomically and return the path written."""
        return self._runner.run(self._stream.save, dest)


class StreamContextSync(AbstractContextManager[AudioStreamSync]):
    """``with`` this to get an ``AudioStreamSync``: ``AudioStreamContext``, blocking."""

    def __init__(self, context: AudioStreamContext, runner: Runner) -> None:
        self._context = context
        self._runner = runner

    def __enter__(self) -> AudioStreamSync:
        return AudioStreamSync(self._runner.run(self._context.__aenter__), self._runner)

    def __exit__(self, *exc_info: object) -> None:
        self._runner.run(self._context.__aexit__, *exc_info)


class CallReportIterator:
    """Every call report across all pages, for the blocking client.

    ``for report in client.call_reports():``; the blocking twin of
    [`CallReportPager`][voipano_async.CallReportPager].
    """

    def __init__(self, pager: CallReportPager, runner: Runner) -> None:
        self._pager = pager
        self._runner = runner

    def __iter__(self) -> Iterator[CallReport]:
        return _step(self._pager.__aiter__(), self._runner)

    def pages(self) -> Iterator[CallReportsPage]:
        """Walk the pages instead of the reports.

        Yields [`CallReportsPage`][voipano_async.CallReportsPage] objects.
        """
        return _step(self._pager.pages(), self._runner)


def _step(iterator: Any, runner: Runner) -> Iterator[Any]:
    while True:
        try:
            yield runner.run(iterator.__anext__)
        except StopAsyncIteration:
            return
