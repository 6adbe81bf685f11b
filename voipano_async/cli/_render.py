"""What the commands print: one renderer per result, the export formats, progress bars.

Data goes to standard output (``stdout``); progress, summaries and messages go to
standard error (``stderr``).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from voipano_async import (
    Billing,
    CallOtpResult,
    CallReport,
    CallResult,
    ServiceList,
    VoicemailInboxes,
)

if TYPE_CHECKING:
    from ._jobs import Tally

__all__ = [
    "Bars",
    "ReportRows",
    "call_result",
    "export_summary",
    "human_bytes",
    "inboxes",
    "otp_result",
    "saved",
    "services",
    "serving",
    "stderr",
    "stdout",
    "walk_summary",
]

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def services(result: ServiceList) -> None:
    """The account's services, as a table."""
    table = Table("subscription", "status", "days left", "package", "phone number")
    for item in result.items:
        package = item.package.name if item.package else ""
        table.add_row(
            str(item.subscription_id),
            item.status or "",
            "" if item.remaining_days is None else str(item.remaining_days),
            package or "",
            item.phone_number or "",
        )
    stdout.print(table)


def inboxes(result: VoicemailInboxes) -> None:
    """The voicemail inboxes, as a table, then the contexts the account may use."""
    table = Table("id", "mailbox", "context", "name")
    for item in result.items:
        table.add_row(item.id, item.mailbox, item.context, item.fullname or "")
    stdout.print(table)
    stdout.print(f"allowed contexts: {', '.join(result.allowed_contexts)}", markup=False)


def otp_result(result: CallOtpResult) -> None:
    """A voice code's request, and what it was charged."""
    _charged(
        result.billing,
        ("request_id", result.request_id),
        ("phone_number", result.phone_number),
        ("purpose", result.purpose),
        ("message", result.message),
    )


def call_result(result: CallResult) -> None:
    """A placed call, and what it was charged."""
    provider = result.provider
    _charged(
        result.billing,
        ("request_id", result.request_id),
        ("endpoint_number", result.endpoint_number),
        ("status", result.status),
        (
            "provider",
            None if provider is None else f"success={provider.success} status={provider.status}",
        ),
    )


def _charged(billing: Billing | None, *rows: tuple[str, Any]) -> None:
    if billing is None:  # the answer did not say: the published price was counted
        _pairs([*rows, ("charged", "not stated by the answer")])
        return
    _pairs(
        [
            *rows,
            ("charged", billing.charged),
            ("unit_price", billing.unit_price),
            ("remaining_credit", billing.remaining_credit),
        ]
    )


def _pairs(rows: list[tuple[str, Any]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        stdout.print(f"{name.ljust(width)}  {'' if value is None else value}", markup=False)


def saved(path: Path) -> None:
    """The path a download was saved to."""
    stdout.print(str(path), markup=False)


class ReportRows:
    """Pages of reports as export text, called once per page in order: ``jsonl`` (one
    JSON object per line, every field kept) or ``csv`` (a header row, then a row each)."""

    def __init__(self, fmt: str, *, ascii_json: bool = False) -> None:
        self.fmt = fmt
        # JSON for a stream that cannot write Persian: \u escapes, the same JSON.
        self._ascii = ascii_json
        self._columns: list[str] | None = None

    def __call__(self, reports: list[CallReport]) -> str:
        records = [r.to_dict() for r in reports]
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=self._ascii) + "\n" for r in records)
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


def export_summary(tally: Tally, path: Path | None, *, quiet: bool) -> None:
    """reports export's one line on stderr (none with --quiet)."""
    if not quiet:
        where = "standard output" if path is None else str(path)
        stderr.print(
            f"{tally.reports} reports ({tally.pages} pages) to {where} in {tally.elapsed:.1f} s",
            markup=False,
        )


def walk_summary(tally: Tally, *, dest: Path, export: Path | None, quiet: bool) -> None:
    """The download or harvest summary on stderr, then every failure (even with --quiet)."""
    if not quiet:
        lines = []
        if export is not None:
            lines.append(f"reports     {tally.reports} ({tally.pages} pages) -> {export}")
        counts = tally.dataset
        if counts is not None:
            resumed = (
                f", resumed after page {counts.resumed_after}" if counts.resumed_after else ""
            )
            lines.append(
                f"reports     {counts.new} new, {counts.changed} changed, "
                f"{counts.unchanged} unchanged ({tally.pages} pages{resumed})"
            )
        lines += [
            f"recordings  {tally.downloaded} downloaded, {tally.skipped} already there -> {dest}",
            f"bytes       {human_bytes(tally.bytes)}",
            f"failures    {len(tally.failures)}",
            f"time        {tally.elapsed:.1f} s",
        ]
        for line in lines:
            stderr.print(line, markup=False)
    for cdr, message in tally.failures:
        stderr.print(f"failed: {cdr}: {message}", markup=False)


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def serving(base_url: str, host: str, token: str) -> None:
    """The sandbox's base URL on stdout, for --base-url; how to stop it on stderr."""
    stdout.print(_client_url(base_url, host), markup=False)
    stderr.print(f"Serving the Voipano sandbox (token {token!r}). Ctrl-C to stop.", markup=False)


def _client_url(base_url: str, host: str) -> str:
    """The served base URL as a client can use it: 0.0.0.0 or :: (every interface) are
    addresses to listen on, not to connect to, so they become 127.0.0.1 or [::1]."""
    try:
        address = ipaddress.ip_address(host or "0.0.0.0")
    except ValueError:
        return base_url  # a host name
    if not address.is_unspecified:
        return base_url
    loopback = "127.0.0.1" if address.version == 4 else "[::1]"
    parts = urlsplit(base_url)
    return parts._replace(netloc=f"{loopback}:{parts.port}").geturl()


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


class Bars:
    """Progress bars on stderr; nothing at all when stderr is not a terminal or --quiet."""

    def __init__(self, *, quiet: bool, reports: bool, files: bool) -> None:
        self._progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=stderr,
            disable=quiet or not stderr.is_terminal,
            transient=False,
        )
        self._pages = self._reports = self._files = None
        if reports:
            self._pages = self._progress.add_task("pages", total=None, note="")
            self._reports = self._progress.add_task("reports", total=None, note="")
        if files:
            self._files = self._progress.add_task("recordings", total=None, note="")

    def __enter__(self) -> Bars:
        # A disabled display is never started: rich before 15 still ends it with a blank
        # line on stderr, which --quiet must not print.
        if not self._progress.disable:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._progress.disable:
            self._progress.__exit__(None, None, None)

    def _set(self, task: TaskID | None, done: int, total: int | None, note: str = "") -> None:
        if task is not None:
            self._progress.update(task, completed=done, total=total, note=note)

    def pages(self, done: int, total: int, reports: int, total_reports: int) -> None:
        self._set(self._pages, done, max(done, total))
        self._set(self._reports, reports, max(reports, total_reports))

    def files(self, done: int, total: int, size: int) -> None:
        self._set(self._files, done, max(done, total), human_bytes(size))

    def resuming(self, page: int, attempt: int, limit: int, error: Exception) -> None:
        """One line for each resumption of the walk, above the bars (even with --quiet)."""
        stderr.print(
            f"resuming from page {page} ({attempt} of {limit}) after "
            f"{type(error).__name__}: {error}",
            markup=False,
        )
