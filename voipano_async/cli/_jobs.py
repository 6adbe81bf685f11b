"""The bulk jobs behind ``voipano``: export reports, download recordings, harvest both.

Built on the public SDK only. One walk over the call reports feeds both the export file
and a pool of download workers, so a harvest reads every page once and downloads while
it walks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.abc
import anyio.to_thread
import attrs

from voipano_async import AsyncVoipano, CallReport

__all__ = [
    "AtomicWriter",
    "Progress",
    "Tally",
    "WorkDirectory",
    "recording_path",
    "report_record",
    "walk",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


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

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Progress:
    """What the jobs report as they go; the command line draws it (or not)."""

    def pages(self, done: int, total: int, reports: int, total_reports: int) -> None:
        """Called after each page is written."""

    def files(self, done: int, total: int, size: int) -> None:
        """Called after each recording is saved or skipped."""


def report_record(report: CallReport) -> dict[str, Any]:
    """A report as one flat JSON object: the modelled fields, then the rest (``extra``)."""
    record = {
        field.name: getattr(report, field.name)
        for field in attrs.fields(CallReport)
        if field.name != "extra"
    }
    record.update(report.extra)
    return record


def recording_path(directory: Path, report: CallReport) -> Path:
    """Where a report's recording is saved: one fixed name per report, so reruns resume."""
    return directory / f"recording-{_UNSAFE.sub('_', report.call_details_record_id)}.wav"


class AtomicWriter:
    """Writes an export to a temporary file beside ``path`` and renames it at the end.

    An interrupted export never leaves a truncated file under the final name. ``path``
    ``None`` writes to standard output instead.
    """

    def __init__(self, path: Path | None, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self._columns: list[str] | None = None
        self._partial: Path | None = None
        self._file: IO[str]
        if path is None:
            self._file = sys.stdout
        elif path.exists() and not path.is_file():
            # A device or a pipe (/dev/null, a FIFO): written in place, never replaced.
            self._file = path.open("w", encoding="utf-8", newline="")
        else:
            for stale in path.parent.glob(f".{path.name}.*.part"):
                stale.unlink(missing_ok=True)  # left by a run that was killed outright
            self._partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
            self._file = self._partial.open("x", encoding="utf-8", newline="")

    def render(self, reports: list[CallReport]) -> str:
        records = [report_record(r) for r in reports]
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        buffer = io.StringIO()
        if self._columns is None and records:
            # The columns of the first report: CSV needs its header before any row. Keys
            # that appear only later are left out of the CSV (JSON Lines keeps all).
            self._columns = list(records[0])
            csv.writer(buffer).writerow(self._columns)
        if self._columns is not None:
            writer = csv.DictWriter(buffer, self._columns, extrasaction="ignore")
            writer.writerows(records)
        return buffer.getvalue()

    async def write(self, reports: list[CallReport]) -> None:
        text = self.render(reports)
        if text:
            await anyio.to_thread.run_sync(self._file.write, text)

    async def commit(self) -> None:
        if self._partial is None or self.path is None:
            await anyio.to_thread.run_sync(self._file.flush)
            if self._file is not sys.stdout:
                await anyio.to_thread.run_sync(self._file.close)
            return
        await anyio.to_thread.run_sync(self._file.close)
        await anyio.to_thread.run_sync(os.replace, self._partial, self.path)
        self._partial = None

    def abort(self) -> None:
        """Remove the temporary file (synchronous, so that cancellation cannot stop it)."""
        if self._partial is None and self._file is not sys.stdout:
            self._file.close()
        if self._partial is not None:
            self._file.close()
            self._partial.unlink(missing_ok=True)
            self._partial = None


class WorkDirectory:
    """A directory a job writes into: created (with its missing parents) when the job
    starts, and removed again at the end if the job left it empty.

    So a run that fails, or is interrupted, before it saved anything leaves no empty
    directories behind; only what this run created is ever removed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._made: list[Path] = []

    async def make(self) -> None:
        await anyio.to_thread.run_sync(self._make)

    def _make(self) -> None:
        missing = []
        for candidate in (self.path, *self.path.parents):
            if candidate.is_dir():
                break
            missing.append(candidate)
        self.path.mkdir(parents=True, exist_ok=True)
        self._made = missing  # deepest first

    def remove_if_empty(self) -> None:
        """Synchronous, so that it runs to the end even while the job is cancelled."""
        for made in self._made:
            try:
                made.rmdir()  # refuses a directory that is not empty
            except OSError:
                break
        self._made = []


def remove_stale_partials(directory: Path) -> None:
    """Temporary files left by a run that was killed outright (SIGKILL, power loss)."""
    for stale in directory.glob(".recording-*.part"):
        stale.unlink(missing_ok=True)


async def walk(
    client: AsyncVoipano,
    *,
    has_recording: bool | None,
    per_page: int | None,
    concurrency: int,
    writer: AtomicWriter | None,
    downloads: Path | None,
    progress: Progress,
    max_reports: int | None = None,
) -> Tally:
    """Walk every report once: write it (``writer``), download its recording (``downloads``).

    Download failures are collected in the tally and never stop the walk or the other
    downloads; a failure of the walk itself is raised (after the downloads under way
    have been stopped) and the export file is not written.
    """
    tally = Tally()
    queued = 0
    walk_error: list[BaseException] = []

    async def produce(
        tg: anyio.abc.TaskGroup, send: anyio.abc.ObjectSendStream[CallReport]
    ) -> None:
        nonlocal queued
        seen: set[str] = set()
        pager = client.call_reports(
            has_recording=has_recording, per_page=per_page, concurrency=concurrency
        )
        try:
            async with send:
                async for page in pager.pages():
                    fresh = [r for r in page.items if r.id not in seen]
                    if max_reports is not None:
                        fresh = fresh[: max(0, max_reports - tally.reports)]
                    seen.update(r.id for r in fresh)
                    tally.pages += 1
                    tally.reports += len(fresh)
                    if writer is not None:
                        await writer.write(fresh)
                    progress.pages(
                        tally.pages,
                        page.pagination.last_page,
                        tally.reports,
                        page.pagination.total,
                    )
                    if downloads is not None:
                        for report in fresh:
                            if report.has_recording:
                                queued += 1
                                await send.send(report)
                    if max_reports is not None and tally.reports >= max_reports:
                        break
        except Exception as exc:
            walk_error.append(exc)
            tg.cancel_scope.cancel()

    async def download(worker_receive: anyio.abc.ObjectReceiveStream[CallReport]) -> None:
        assert downloads is not None
        async with worker_receive:
            async for report in worker_receive:
                await _download_one(client, report, downloads, tally)
                done = tally.downloaded + tally.skipped + len(tally.failures)
                progress.files(done, queued, tally.bytes)

    async def pump() -> None:
        send, receive = anyio.create_memory_object_stream[CallReport](max_buffer_size=256)
        async with anyio.create_task_group() as tg:
            if downloads is not None:
                for _ in range(concurrency):
                    tg.start_soon(download, receive.clone())
            receive.close()
            await produce(tg, send)

    folder = None if downloads is None else WorkDirectory(downloads)
    try:
        if folder is not None:
            await folder.make()
            await anyio.to_thread.run_sync(remove_stale_partials, folder.path)
        await pump()
    finally:
        if folder is not None:
            folder.remove_if_empty()
    if walk_error:
        raise walk_error[0]
    return tally


async def _download_one(
    client: AsyncVoipano, report: CallReport, directory: Path, tally: Tally
) -> None:
    target = recording_path(directory, report)
    if await anyio.to_thread.run_sync(target.exists):
        # Saves are atomic: a file under its final name is always complete.
        tally.skipped += 1
        return
    try:
        path = await client.download_call_recording(report, target)
        size = (await anyio.to_thread.run_sync(path.stat)).st_size
        tally.bytes += size  # after the await: other downloads add theirs meanwhile
        tally.downloaded += 1
    except Exception as exc:
        tally.failures.append((report.call_details_record_id, f"{type(exc).__name__}: {exc}"))


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover
