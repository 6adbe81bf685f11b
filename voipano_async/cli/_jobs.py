"""The bulk jobs behind ``voipano``: export reports, download recordings, harvest both.

Built on the public SDK, its one atomic-write idiom (``_files``) and its one "first error
wins" rule (``_taskgroup``). One walk over the call reports feeds both the export file
and a pool of download workers, so a harvest reads every page once and downloads while
it walks; a walk that fails on a page may resume from the first page it has not written.
"""

from __future__ import annotations

import contextlib
import glob
import re
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import IO, Protocol

import anyio
import anyio.abc
import anyio.to_thread
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from voipano_async import (
    APIConnectionError,
    AsyncVoipano,
    CallReport,
    CallReportsPage,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)
from voipano_async._config import DEFAULT_CONCURRENCY
from voipano_async._dataset import ReportDataset, RunCounts
from voipano_async._files import commit_partial, discard_partial, partial_path, remove_partials
from voipano_async._pager import _RecentIds, remembered
from voipano_async._taskgroup import FirstErrorGroup

__all__ = [
    "AtomicWriter",
    "Progress",
    "Tally",
    "Walk",
    "WorkDirectory",
    "recording_path",
    "walk",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# The page size assumed when the server chooses it (the API's default is not published).
_SERVER_PAGE = 100
# Pages the walk may fetch ahead of the dataset's writer.
_PAGES_AHEAD = 64
# At most this many waiting pages are committed in one transaction by the dataset's writer.
_PAGES_A_COMMIT = 16
_RECORDING = "recording-"  # the start of every saved recording's name

# Reports as export text: the writer asks it for each page, in order.
Rows = Callable[[list[CallReport]], str]

# A page that failed with one of these, the SDK's retries used up, may well come on a
# later try (a network fault, a 429, a 5xx, an answer cut off); any other error would
# only fail again.
_RESUMABLE = (APIConnectionError, RateLimitError, ServerError, UnexpectedResponseError)


def _resumable(error: Exception) -> bool:
    return isinstance(error, _RESUMABLE) and getattr(error, "unreadable", True)


@attrs.define
class Tally:
    """What a job did, for its summary."""

    pages: int = 0
    reports: int = 0
    downloaded: int = 0
    skipped: int = 0
    bytes: int = 0
    failures: list[tuple[str, str]] = attrs.field(factory=list)
    started: float = attrs.field(factory=time.monotonic)
    # What the run did to the dataset (--db), once it is finished.
    dataset: RunCounts | None = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Progress(Protocol):
    """What the jobs report as they go; the command line draws it (or not).

    Entered for the walk itself, once the export file and directories are ready.
    """

    def __enter__(self) -> object: ...

    def __exit__(self, *exc: object) -> None: ...

    def pages(self, done: int, total: int, reports: int, total_reports: int) -> None:
        """Called after each page is written."""

    def files(self, done: int, total: int, size: int) -> None:
        """Called after each recording is saved or skipped."""

    def resuming(self, page: int, attempt: int, limit: int, error: Exception) -> None:
        """Called when the walk starts again at ``page`` after ``error`` (``attempt`` of
        ``limit``)."""


@attrs.frozen(kw_only=True)
class Walk:
    """One walk over the call reports, and what it does with them.

    ``rows`` exports the reports (to ``export``, or standard output when that is
    ``None``); ``dataset`` merges them into a SQLite dataset, page by page, resuming an
    interrupted run where it stopped; ``downloads`` saves their recordings into that
    directory (with ``dataset``, those it records). After a page
    fails with a network error, a 429 or a 5xx, the walk resumes from the first page not
    yet written, up to ``resumes`` times in all.
    """

    rows: Rows | None = None
    export: Path | None = None
    downloads: Path | None = None
    has_recording: bool | None = None
    per_page: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    resumes: int = 0
    dataset: ReportDataset | None = None


def recording_path(directory: Path, report: CallReport) -> Path:
    """Where a report's recording is saved: one fixed name per report, so reruns resume."""
    return directory / f"{_RECORDING}{_UNSAFE.sub('_', report.call_details_record_id)}.wav"


class AtomicWriter:
    """Writes an export to a temporary file beside ``path`` and renames it at the end.

    An interrupted export never leaves a truncated file under the final name. ``path``
    ``None`` writes to standard output instead.
    """

    def __init__(self, path: Path | None, rows: Rows) -> None:
        self.path = path
        self._rows = rows
        self._partial: Path | None = None
        self._file: IO[str]
        if path is None:
            self._file = sys.stdout
        elif path.exists() and not path.is_file():
            # A device or a pipe (/dev/null, a FIFO): written in place, never replaced.
            self._file = path.open("w", encoding="utf-8", newline="")
        else:
            # Left by a run that was killed outright.
            remove_partials(path.parent, glob.escape(path.name))
            self._partial = partial_path(path)
            self._file = self._partial.open("x", encoding="utf-8", newline="")

    async def write(self, reports: list[CallReport]) -> None:
        text = self._rows(reports)
        if text:
            await anyio.to_thread.run_sync(self._file.write, text)

    async def commit(self) -> None:
        if self._partial is None or self.path is None:
            await anyio.to_thread.run_sync(self._file.flush)
            if self._file is not sys.stdout:
                await anyio.to_thread.run_sync(self._file.close)
            return
        await anyio.to_thread.run_sync(self._file.close)
        await anyio.to_thread.run_sync(commit_partial, self._partial, self.path)
        self._partial = None

    def abort(self) -> None:
        """Remove the temporary file (synchronous, so that cancellation cannot stop it)."""
        if self._partial is None and self._file is not sys.stdout:
            self._file.close()
        if self._partial is not None:
            discard_partial(self._file, self._partial)
            self._partial = None


class WorkDirectory:
    """``async with``: a directory a job writes into, created (with its missing parents)
    on entry and removed again on exit if the job left it empty.

    So a run that fails, or is interrupted, before it saved anything leaves no empty
    directories behind; only what this run created is ever removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._made: list[Path] = []

    async def __aenter__(self) -> Path:
        try:
            await anyio.to_thread.run_sync(self._make)
        except BaseException:
            self._remove_if_empty()
            raise
        return self.path

    async def __aexit__(self, *exc: object) -> None:
        self._remove_if_empty()

    def _make(self) -> None:
        missing = []
        for candidate in (self.path, *self.path.parents):
            if candidate.is_dir():
                break
            missing.append(candidate)
        self.path.mkdir(parents=True, exist_ok=True)
        self._made = missing  # deepest first

    def _remove_if_empty(self) -> None:
        """Synchronous, so that it runs to the end even while the job is cancelled."""
        for made in self._made:
            try:
                made.rmdir()  # refuses a directory that is not empty
            except OSError:
                break
        self._made = []


def _work_directory(path: Path | None) -> AbstractAsyncContextManager[object]:
    return contextlib.nullcontext() if path is None else WorkDirectory(path)


async def walk(client: AsyncVoipano, spec: Walk, progress: Progress) -> Tally:
    """Walk every report once: export it, download its recording, or both (``spec``).

    Download failures are collected in the tally and never stop the walk or the other
    downloads. A failure of the walk itself that ``spec.resumes`` does not cover is
    raised (after the downloads under way have been stopped) and the export file is not
    written.
    """
    async with _work_directory(None if spec.export is None else spec.export.parent):
        writer = None if spec.rows is None else AtomicWriter(spec.export, spec.rows)
        try:
            with progress:
                tally = await _walk(client, spec, writer, progress)
            if writer is not None:
                await writer.commit()
            if spec.dataset is not None:
                tally.dataset = await spec.dataset.finish_run()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    return tally


async def _walk(
    client: AsyncVoipano, spec: Walk, writer: AtomicWriter | None, progress: Progress
) -> Tally:
    tally = Tally()
    queued = 0

    # Kept across resumptions, so that no report a shift repeats is written twice: the
    # latest reports' ids, as the pager keeps them (flat memory, however long the walk);
    # a dataset (--db) merges by id, so a repeat from further back changes nothing there.
    seen = _RecentIds(2 * remembered(spec.concurrency, spec.per_page or _SERVER_PAGE))

    # Recordings a resumed run downloads for pages it does not walk again (see produce).
    pending: set[str] = set()
    to_dataset: MemoryObjectSendStream[tuple[int, list[CallReport]]] | None = None
    written_all = anyio.Event()

    async def take(page: CallReportsPage, send: anyio.abc.ObjectSendStream[CallReport]) -> None:
        fresh = [r for r in page.items if r.id not in seen]
        for report in fresh:
            seen.add(report.id)
        tally.pages += 1
        tally.reports += len(fresh)
        if writer is not None:
            await writer.write(fresh)
        if to_dataset is not None:
            # Merged by the writer, off the walk's path: the walk fetches on meanwhile.
            await to_dataset.send((page.pagination.page, fresh))
        progress.pages(
            tally.pages, page.pagination.last_page, tally.reports, page.pagination.total
        )
        if spec.downloads is not None:
            for report in fresh:
                if report.has_recording and report.id not in pending:
                    await enqueue(report, send)

    async def enqueue(report: CallReport, send: anyio.abc.ObjectSendStream[CallReport]) -> None:
        nonlocal queued
        queued += 1
        await send.send(report)

    async def produce(send: anyio.abc.ObjectSendStream[CallReport]) -> None:
        # The last page written; pages fetched but not yet yielded don't count. A dataset
        # goes on after the page its interrupted run committed last.
        written = 0 if spec.dataset is None else await spec.dataset.start_run()
        resumed = 0
        async with send:
            if written and spec.dataset is not None and spec.downloads is not None:
                # The pages before `written` are not walked again: their recordings that
                # the interrupted run did not save are downloaded first.
                for report in await spec.dataset.pending_recordings():
                    pending.add(report.id)
                    await enqueue(report, send)
            while True:
                pager = client.call_reports(
                    has_recording=spec.has_recording,
                    per_page=spec.per_page,
                    concurrency=spec.concurrency,
                    start_page=written + 1,
                )
                try:
                    async for page in pager.pages():
                        await take(page, send)
                        written = page.pagination.page
                    return
                except _RESUMABLE as exc:
                    if resumed >= spec.resumes or not _resumable(exc):
                        raise
                    resumed += 1
                    progress.resuming(written + 1, resumed, spec.resumes, exc)

    async def write_pages(
        dataset: ReportDataset,
        pages_in: MemoryObjectReceiveStream[tuple[int, list[CallReport]]],
    ) -> None:
        # Pages in order, each with its number, committed whole: the pages waiting when
        # the writer comes back (up to _PAGES_A_COMMIT) share one transaction. A page
        # not yet committed when the walk is stopped is walked again.
        try:
            async with pages_in:
                async for first in pages_in:
                    batch = [first]
                    while len(batch) < _PAGES_A_COMMIT:
                        try:
                            batch.append(pages_in.receive_nowait())
                        except (anyio.WouldBlock, anyio.EndOfStream):
                            break
                    await dataset.merge_pages(batch)
        finally:
            written_all.set()

    async def download(
        directory: Path, worker_receive: anyio.abc.ObjectReceiveStream[CallReport]
    ) -> None:
        async with worker_receive:
            async for report in worker_receive:
                await _download_one(client, report, directory, tally, spec.dataset)
                done = tally.downloaded + tally.skipped + len(tally.failures)
                progress.files(done, queued, tally.bytes)

    async with _work_directory(spec.downloads):
        if spec.downloads is not None:
            await anyio.to_thread.run_sync(remove_partials, spec.downloads, f"{_RECORDING}*")
        send, receive = anyio.create_memory_object_stream[CallReport](max_buffer_size=256)
        # The walk's own failure (the body, order 0) wins over the download workers'.
        async with FirstErrorGroup() as group:
            if spec.dataset is not None:
                pages_out, pages_in = anyio.create_memory_object_stream[
                    tuple[int, list[CallReport]]
                ](max_buffer_size=_PAGES_AHEAD)
                to_dataset = pages_out
                group.start_soon(write_pages, spec.dataset, pages_in, order=0)
            if spec.downloads is not None:
                for _ in range(spec.concurrency):
                    group.start_soon(download, spec.downloads, receive.clone(), order=1)
            receive.close()
            try:
                await produce(send)
            finally:
                if to_dataset is not None:
                    # The writer commits what is queued, then ends: pages walked before a
                    # failure are kept (a cancellation does not wait for them).
                    to_dataset.close()
                    await written_all.wait()
    return tally


async def _download_one(
    client: AsyncVoipano,
    report: CallReport,
    directory: Path,
    tally: Tally,
    dataset: ReportDataset | None = None,
) -> None:
    if dataset is not None and await dataset.has_recording(report.id):
        tally.skipped += 1
        return
    target = recording_path(directory, report)
    if await anyio.to_thread.run_sync(target.exists):
        # Saves are atomic: a file under its final name is always complete.
        tally.skipped += 1
        if dataset is not None:
            await dataset.add_recording(report.id, target)
        return
    try:
        path = await client.download_call_recording(report, target)
        size = (await anyio.to_thread.run_sync(path.stat)).st_size
        tally.bytes += size  # after the await: other downloads add theirs meanwhile
        tally.downloaded += 1
        if dataset is not None:
            await dataset.add_recording(report.id, path)
    except Exception as exc:
        tally.failures.append((report.call_details_record_id, f"{type(exc).__name__}: {exc}"))
