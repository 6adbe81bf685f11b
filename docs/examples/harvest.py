"""Harvest every call report that has a recording: a JSON Lines export and the WAVs.

    python harvest.py --dest harvest --concurrency 8

writes `harvest/reports.jsonl` (one report per line, as the API sends it) and
`harvest/recordings/recording-<call_details_record_id>.wav`. Report pages are fetched
`--concurrency` at a time, and as many downloads run while the walk goes on.

It is safe to interrupt and to run again: recordings already on disk are skipped (the
SDK saves each one atomically, so a file under its final name is complete), and
`reports.jsonl` is replaced only once the whole walk has been written. A run with
failed downloads exits with status 1; run it again to fetch what is missing.

The token comes from `VOIPANO_TOKEN` and the API base from `VOIPANO_BASE_URL`. To try
it against the local sandbox (no account needed):

    pip install "voipano-async[cli,sandbox]"
    # (not on PyPI yet: from the repository's root,
    #  python -m pip install ".[cli,sandbox]")
    voipano sandbox                                  # in another terminal
    export VOIPANO_TOKEN=sandbox-token
    export VOIPANO_BASE_URL=http://127.0.0.1:8765/api/v1/webservice
    python harvest.py --dest harvest
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import ObjectReceiveStream

from voipano_async import AsyncVoipano, CallReport, VoipanoError

EXPORT_NAME = "reports.jsonl"
RECORDINGS_DIR = "recordings"
LINES_PER_WRITE = 200


@dataclasses.dataclass
class Summary:
    """What a harvest did."""

    reports: int = 0
    downloaded: int = 0
    skipped: int = 0
    failed: list[str] = dataclasses.field(default_factory=list)


def recording_path(directory: Path, report: CallReport) -> Path:
    """One fixed file name per report, so that a rerun finds what it already has."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", report.call_details_record_id)
    return directory / f"recording-{safe}.wav"


async def harvest(client: AsyncVoipano, dest: Path, *, concurrency: int = 4) -> Summary:
    """Export the reports that have a recording, and download their recordings.

    Raises:
        VoipanoError: The walk over the reports failed; `reports.jsonl` is left as it
            was. A failed download does not raise: it is listed in `Summary.failed`.
    """
    recordings = dest / RECORDINGS_DIR
    await anyio.Path(recordings).mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(_remove_partials, recordings)
    export = dest / EXPORT_NAME
    partial = export.with_name(f".{EXPORT_NAME}.part")
    open_partial = functools.partial(partial.open, "w", encoding="utf-8")
    out = await anyio.to_thread.run_sync(open_partial)
    summary = Summary()
    # A buffer of `concurrency` reports: when the downloads fall behind, the walk waits.
    send, receive = anyio.create_memory_object_stream[CallReport](concurrency)
    walk_error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(_downloader, client, receive.clone(), recordings, summary)
            receive.close()
            try:
                async with send:
                    lines: list[str] = []
                    reports = client.call_reports(
                        has_recording=True,
                        concurrency=concurrency,
                    )
                    async for report in reports:
                        summary.reports += 1
                        # The fields the SDK models, then those it keeps in `extra`.
                        lines.append(report.to_json(indent=None))
                        if len(lines) == LINES_PER_WRITE:
                            await anyio.to_thread.run_sync(_write_lines, out, lines)
                            lines = []
                        await send.send(report)
                    await anyio.to_thread.run_sync(_write_lines, out, lines)
            except Exception as exc:
                # Stop the downloads, and raise it below: outside the task group, it
                # reaches the caller as itself rather than inside an ExceptionGroup.
                walk_error = exc
                tg.cancel_scope.cancel()
        if walk_error is not None:
            raise walk_error
        await anyio.to_thread.run_sync(out.close)
        await anyio.to_thread.run_sync(os.replace, partial, export)
    except BaseException:
        # No await here: cancellation (Ctrl-C) cannot stop the cleanup half-way.
        out.close()
        partial.unlink(missing_ok=True)
        raise
    return summary


async def _downloader(
    client: AsyncVoipano,
    reports: ObjectReceiveStream[CallReport],
    directory: Path,
    summary: Summary,
) -> None:
    async with reports:
        async for report in reports:
            target = recording_path(directory, report)
            if await anyio.Path(target).exists():
                summary.skipped += 1
                continue
            try:
                await client.download_call_recording(report, target)
            except (VoipanoError, OSError) as exc:
                summary.failed.append(f"{report.call_details_record_id}: {exc}")
            else:
                summary.downloaded += 1


def _write_lines(out: Any, lines: list[str]) -> None:
    out.writelines(line + "\n" for line in lines)


def _remove_partials(directory: Path) -> None:
    # Hidden temporary files left by downloads of a killed run (kill -9, power loss).
    for stale in directory.glob(".recording-*.part"):
        stale.unlink(missing_ok=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Export Voipano call reports with a recording, and the recordings."
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=Path("harvest"),
        help=f"directory for {EXPORT_NAME} and {RECORDINGS_DIR}/ (default: harvest)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=4,
        help="report pages fetched and recordings downloaded at once (default: 4)",
    )
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> int:
    """Run a harvest from the command line; return the exit status."""
    args = parse_args(argv)
    try:
        async with AsyncVoipano() as client:  # VOIPANO_TOKEN, VOIPANO_BASE_URL
            summary = await harvest(client, args.dest, concurrency=args.concurrency)
    except VoipanoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{summary.reports} reports -> {args.dest / EXPORT_NAME}")
    print(
        f"{summary.downloaded} recordings downloaded, {summary.skipped} already there"
        f" -> {args.dest / RECORDINGS_DIR}"
    )
    for failure in summary.failed:
        print(f"failed: {failure}", file=sys.stderr)
    if summary.failed:
        failed = len(summary.failed)
        print(f"{failed} downloads failed: run again to retry them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(anyio.run(main))
    except KeyboardInterrupt:
        print("interrupted: run again to resume", file=sys.stderr)
        sys.exit(130)
