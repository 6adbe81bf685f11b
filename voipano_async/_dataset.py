"""A harvest kept as a dataset: every call report merged by id into one SQLite file.

``voipano harvest --db PATH`` (and ``harvest_dataset``) write here. One row per report,
keyed by ``id``: the modelled fields as columns, the rest as JSON, when it was first and
last seen; one row per saved recording with its path, size and SHA-256; one row per run
with its counts. Each page is merged in one transaction, so a run that is interrupted
resumes after the last page it committed, and nothing is ever written twice.

Every call runs in a worker thread (``anyio.to_thread``): SQLite blocks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import attrs

from ._config import DEFAULT_CONCURRENCY
from ._models import CallReport

if TYPE_CHECKING:
    from ._client import AsyncVoipano

__all__ = ["SCHEMA_VERSION", "DatasetError", "ReportDataset", "RunCounts", "harvest_dataset"]

T = TypeVar("T")

# The schema this version writes. A file with a higher one is refused, untouched; a lower
# one is migrated forward, one version at a time, in one transaction (see ``_MIGRATIONS``).
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    call_details_record_id TEXT NOT NULL,
    call_source TEXT,
    call_destination TEXT,
    has_recording INTEGER NOT NULL,
    recording_url TEXT,
    extra TEXT NOT NULL,          -- the keys the SDK does not model, as a JSON object
    content_hash TEXT NOT NULL,   -- SHA-256 of the report's content: tells "changed"
    first_seen TEXT NOT NULL,     -- UTC, ISO 8601
    last_seen TEXT NOT NULL,
    changed_at TEXT               -- when its content last changed, NULL if never
);
CREATE TABLE recordings (
    report_id TEXT PRIMARY KEY REFERENCES reports (id),
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    saved_at TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,             -- NULL while running, or when it was interrupted
    last_page INTEGER NOT NULL DEFAULT 0,  -- the last page committed
    reports_new INTEGER NOT NULL DEFAULT 0,
    reports_changed INTEGER NOT NULL DEFAULT 0,
    reports_unchanged INTEGER NOT NULL DEFAULT 0,
    recordings_saved INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reports_first_seen ON reports (first_seen);
"""

# From version N to N + 1: the statements that migrate a file, in order.
_MIGRATIONS: dict[int, str] = {}


class DatasetError(Exception):
    """A file that cannot be used as a dataset: not SQLite, or a newer schema.

    Raised before any request is made; the file is left as it was.
    """


@attrs.define
class RunCounts:
    """What one run did to the dataset.

    Attributes:
        new: Reports not in the dataset before.
        changed: Reports whose content differs from what the dataset held.
        unchanged: Reports seen again as they were (only their ``last_seen`` moved).
        recordings_saved: Recordings downloaded and recorded in this run.
        resumed_after: The page an interrupted run had committed, which this run went on
            from; 0 for a run from the first page.
    """

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    recordings_saved: int = 0
    resumed_after: int = 0


# The unmodelled keys of a report, as JSON text (one encoder, not one a report).
_EXTRA_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ReportDataset:
    """A SQLite file of call reports, merged by id, one run after another.

    ``ReportDataset(path)`` opens it (created when missing); ``voipano harvest --db`` and
    [`harvest_dataset`][voipano_async.harvest_dataset] fill it. See Harvesting for its
    schema and queries.
    """

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the dataset at ``path``, checking it before anything else.

        Raises:
            DatasetError: ``path`` is not a SQLite database, or was written by a newer
                version; nothing in it was changed.
        """
        self.path: Path = Path(path)
        self._db = self._open(self.path)
        self.run_id: int | None = None
        self.counts: RunCounts = RunCounts()
        self._recorded: set[str] | None = None
        # One statement at a time on the connection (made on first use, in the loop).
        self._lock: anyio.Lock | None = None

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            return await anyio.to_thread.run_sync(work, *args)

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def _open(cls, path: Path) -> sqlite3.Connection:
        if path.exists() and not path.is_file():
            raise DatasetError(f"{path} is not a file")
        if path.is_file() and path.stat().st_size > 0:
            with path.open("rb") as file:
                if file.read(16) != b"SQLite format 3\0":
                    raise DatasetError(f"{path} is not a SQLite database: left as it is")
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            cls._check_schema(connection, path)
        except BaseException:
            connection.close()
            raise
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @staticmethod
    def _check_schema(db: sqlite3.Connection, path: Path) -> None:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if not tables:
            db.executescript(f"BEGIN; {_SCHEMA}; COMMIT;")
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        if "meta" not in tables:
            raise DatasetError(f"{path} is a SQLite database, but not a voipano dataset")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise DatasetError(
                f"{path} has schema version {version}, newer than this voipano-async knows "
                f"({SCHEMA_VERSION}): upgrade voipano-async; the file was left as it is"
            )
        while version < SCHEMA_VERSION:
            db.executescript(f"BEGIN; {_MIGRATIONS[version]}; COMMIT;")
            version += 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))

    def close(self) -> None:
        """Close the file (what each run committed stays)."""
        self._db.close()

    # -- runs -------------------------------------------------------------------------------

    async def start_run(self) -> int:
        """Start a run, or go on with the last one if it was interrupted; the page it had
        committed (0: start from the first page)."""
        return await self._run(self._start_run)

    def _start_run(self) -> int:
        row = self._db.execute(
            "SELECT id, last_page, reports_new, reports_changed, reports_unchanged, "
            "recordings_saved FROM runs WHERE finished_at IS NULL "
            "AND id = (SELECT max(id) FROM runs)"
        ).fetchone()
        if row is not None:  # the last run was interrupted: go on with it
            self.run_id = row[0]
            new, changed, unchanged, saved = row[2:]
            self.counts = RunCounts(new, changed, unchanged, saved, resumed_after=row[1])
            return int(row[1])
        cursor = self._db.execute("INSERT INTO runs (started_at) VALUES (?)", (_now(),))
        self.run_id = cursor.lastrowid
        self.counts = RunCounts()
        return 0

    async def finish_run(self) -> RunCounts:
        """Mark the run done: the next one starts from the first page."""
        await self._run(
            self._db.execute,
            "UPDATE runs SET finished_at = ? WHERE id = ?",
            (_now(), self.run_id),
        )
        return self.counts

    # -- reports ----------------------------------------------------------------------------

    async def merge_page(self, page: int, reports: list[CallReport]) -> None:
        """Merge one page's reports, and record it as the run's last committed page, in
        one transaction."""
        await self._run(self._merge_pages, [(page, reports)])

    async def merge_pages(self, pages: Sequence[tuple[int, list[CallReport]]]) -> None:
        """Merge pages, given in order as ``(number, reports)``, in one transaction that
        records the last of them as the run's last committed page.

        A writer that finds several pages waiting commits them together (fewer commits,
        each writing the pages of the index it touched once); what a stopped run keeps
        is still whole pages, up to the last one committed.
        """
        if pages:
            await self._run(self._merge_pages, pages)

    def _merge_pages(self, pages: Sequence[tuple[int, list[CallReport]]]) -> None:
        now = _now()
        counts = self.counts
        new = changed = unchanged = 0
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            # Page by page, in order: a report a later page repeats meets its first copy.
            for _, reports in pages:
                added, edited, same = self._merge_rows(db, self._rows(reports, now), now)
                new, changed, unchanged = new + added, changed + edited, unchanged + same
            db.execute(
                "UPDATE runs SET last_page = ?, reports_new = ?, reports_changed = ?, "
                "reports_unchanged = ? WHERE id = ?",
                (
                    pages[-1][0],
                    counts.new + new,
                    counts.changed + changed,
                    counts.unchanged + unchanged,
                    self.run_id,
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        counts.new += new
        counts.changed += changed
        counts.unchanged += unchanged

    @staticmethod
    def _rows(reports: list[CallReport], now: str) -> list[tuple[Any, ...]]:
        rows = []
        encode, sha256 = _EXTRA_ENCODER.encode, hashlib.sha256
        for report in reports:
            modelled = (
                report.id,
                report.call_details_record_id,
                report.call_source,
                report.call_destination,
                int(report.has_recording),
                report.recording_url,
            )
            # The unmodelled keys in the server's order: the same answer, the same text.
            extra = encode(dict(report.extra))
            content = sha256(f"{modelled!r}{extra}".encode()).hexdigest()
            rows.append((*modelled, extra, content, now))
        return rows

    @staticmethod
    def _merge_rows(
        db: sqlite3.Connection, rows: list[tuple[Any, ...]], now: str
    ) -> tuple[int, int, int]:
        """Merge one page's rows; how many were new, changed and unchanged."""
        if not rows:
            return 0, 0, 0
        known = dict(
            db.execute(
                f"SELECT id, content_hash FROM reports WHERE id IN ({','.join('?' * len(rows))})",
                [row[0] for row in rows],
            ).fetchall()
        )
        new = [row for row in rows if row[0] not in known]
        changed = [row for row in rows if row[0] in known and known[row[0]] != row[7]]
        same = [row[0] for row in rows if row[0] in known and known[row[0]] == row[7]]
        db.executemany(
            "INSERT INTO reports (id, call_details_record_id, call_source, "
            "call_destination, has_recording, recording_url, extra, content_hash, "
            "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, now) for row in new],
        )
        db.executemany(
            "UPDATE reports SET call_details_record_id = ?, call_source = ?, "
            "call_destination = ?, has_recording = ?, recording_url = ?, extra = ?, "
            "content_hash = ?, last_seen = ?, changed_at = ? WHERE id = ?",
            [(*row[1:], now, row[0]) for row in changed],
        )
        if same:  # one statement for the page's unchanged reports
            db.execute(
                f"UPDATE reports SET last_seen = ? WHERE id IN ({','.join('?' * len(same))})",
                [now, *same],
            )
        return len(new), len(changed), len(same)

    # -- recordings -------------------------------------------------------------------------

    async def has_recording(self, report_id: str) -> bool:
        """Whether the dataset holds this report's recording (and the file is there)."""
        if self._recorded is None:
            self._recorded = await self._run(self._recorded_ids)
        return report_id in self._recorded

    def _recorded_ids(self) -> set[str]:
        found = set()
        for report_id, path in self._db.execute("SELECT report_id, path FROM recordings"):
            if Path(path).is_file():
                found.add(report_id)
        return found

    async def pending_recordings(self) -> list[CallReport]:
        """The reports this run has merged whose recording the dataset does not hold, in
        the order they were merged: a resumed run does not walk their pages again."""
        return await self._run(self._pending_recordings)

    def _pending_recordings(self) -> list[CallReport]:
        rows = self._db.execute(
            "SELECT r.id, r.call_details_record_id, r.call_source, r.call_destination, "
            "r.recording_url, r.extra FROM reports r JOIN runs u ON u.id = ? "
            "LEFT JOIN recordings g ON g.report_id = r.id "
            "WHERE r.has_recording AND g.report_id IS NULL AND r.last_seen >= u.started_at "
            "ORDER BY r.rowid",
            (self.run_id,),
        )
        return [
            CallReport(
                id=report_id,
                call_details_record_id=cdr,
                call_source=source,
                call_destination=destination,
                has_recording=True,
                recording_url=url,
                extra=MappingProxyType(json.loads(extra)),
            )
            for report_id, cdr, source, destination, url, extra in rows
        ]

    async def add_recording(self, report_id: str, path: Path) -> None:
        """Record a saved recording: its path, size and SHA-256."""
        await self._run(self._add_recording, report_id, path)
        if self._recorded is not None:
            self._recorded.add(report_id)

    def _add_recording(self, report_id: str, path: Path) -> None:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        self.counts.recordings_saved += 1
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT OR REPLACE INTO recordings VALUES (?, ?, ?, ?, ?)",
                (report_id, str(path), size, digest.hexdigest(), _now()),
            )
            db.execute(
                "UPDATE runs SET recordings_saved = ? WHERE id = ?",
                (self.counts.recordings_saved, self.run_id),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- reading ----------------------------------------------------------------------------

    def report_ids(self) -> Iterable[str]:
        """Every report id in the dataset (synchronous; for tests and scripts)."""
        return [row[0] for row in self._db.execute("SELECT id FROM reports ORDER BY id")]


class _Quiet:
    """No progress to draw: the library's harvest reports only its result."""

    def __enter__(self) -> object:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def pages(self, *args: Any) -> None:
        return None

    def files(self, *args: Any) -> None:
        return None

    def resuming(self, *args: Any) -> None:
        return None


async def harvest_dataset(
    client: AsyncVoipano,
    path: str | Path,
    *,
    recordings: str | Path | None = None,
    per_page: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    resumes: int = 3,
) -> RunCounts:
    """Merge every call report into the SQLite dataset at ``path``, as
    ``voipano harvest --db`` does, and what the run did.

    Each page is committed as it is merged: a run that is interrupted (an error, a
    cancellation, a killed process) is resumed by the next call after its last committed
    page, and no report is ever stored twice. With ``recordings``, every recording the
    dataset does not hold yet is downloaded into that directory and recorded with its
    size and SHA-256. A page that fails on the network, a 429 or a 5xx is resumed
    ``resumes`` times.

    Args:
        client: The client to walk with.
        path: The dataset file; created when missing.
        recordings: A directory to download recordings into (created when missing).
        per_page: Reports per request.
        concurrency: Pages (and downloads) at once.
        resumes: How many times a failing walk starts again from its next page.

    Returns:
        How many reports were new, changed and unchanged, and recordings saved.

    Raises:
        DatasetError: Before any request: ``path`` is not a SQLite database, or is newer
            than this version knows.

    Examples:
        >>> counts = await harvest_dataset(client, "calls.db", recordings="recordings/")
        >>> counts.new, counts.changed, counts.unchanged
        (300, 0, 0)
    """
    from .cli._jobs import Walk, walk

    dataset = await anyio.to_thread.run_sync(ReportDataset, path)
    try:
        spec = Walk(
            downloads=None if recordings is None else Path(recordings),
            per_page=per_page,
            concurrency=concurrency,
            resumes=resumes,
            dataset=dataset,
        )
        tally = await walk(client, spec, _Quiet())
    finally:
        await anyio.to_thread.run_sync(dataset.close)
    assert tally.dataset is not None
    return tally.dataset
