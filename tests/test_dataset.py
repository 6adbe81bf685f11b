"""A harvest kept as a SQLite dataset: merged by id, resumed, counted, versioned."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from voipano_async import RunCounts, ServerError, harvest_dataset
from voipano_async._dataset import SCHEMA_VERSION, ReportDataset
from voipano_async.testing import Fault, VoipanoSandbox

pytestmark = pytest.mark.anyio


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


async def test_a_harvest_merges_every_report_once_and_a_rerun_counts_them_unchanged(
    tmp_path: Path,
) -> None:
    sandbox = VoipanoSandbox(reports=120)
    db, saved = tmp_path / "calls.db", tmp_path / "recordings"
    async with sandbox.client() as client:
        first = await harvest_dataset(client, db, recordings=saved, per_page=25)
        downloads = sum(r.path.startswith("/call-recordings/") for r in sandbox.requests)
        second = await harvest_dataset(client, db, recordings=saved, per_page=25)

    with_recording = sum(r["has_recording"] for r in sandbox.reports)
    assert first == RunCounts(new=120, recordings_saved=with_recording)
    assert second == RunCounts(unchanged=120)  # nothing new, nothing downloaded again
    assert downloads == with_recording
    assert sum(r.path.startswith("/call-recordings/") for r in sandbox.requests) == downloads
    assert rows(db, "SELECT count(*), count(DISTINCT id) FROM reports") == [(120, 120)]
    # The modelled fields as columns, the rest as JSON.
    report = sandbox.reports[0]
    [(source, extra)] = rows(
        db, f"SELECT call_source, extra FROM reports WHERE id = '{report['id']}'"
    )
    assert source == report["call_source"]
    assert json.loads(str(extra))["duration"] == report["duration"]
    # Every recording with its size and SHA-256, as saved.
    for path, size, digest in rows(db, "SELECT path, size, sha256 FROM recordings"):
        content = Path(str(path)).read_bytes()
        assert (len(content), hashlib.sha256(content).hexdigest()) == (size, digest)
    assert rows(
        db, "SELECT reports_new, reports_unchanged, finished_at IS NOT NULL FROM runs"
    ) == [
        (120, 0, 1),
        (0, 120, 1),
    ]


async def test_new_and_changed_reports_are_counted_and_dated(tmp_path: Path) -> None:
    sandbox = VoipanoSandbox(reports=60)
    db = tmp_path / "calls.db"
    async with sandbox.client() as client:
        await harvest_dataset(client, db)
        [(first_seen,)] = rows(
            db, f"SELECT first_seen FROM reports WHERE id = '{sandbox.reports[5]['id']}'"
        )
        sandbox.reports[5]["duration"] = 999  # the server corrected a report
        await client.call_otp("09123456789")  # and a call came in
        counts = await harvest_dataset(client, db)

    assert counts == RunCounts(new=1, changed=1, unchanged=59)
    changed = sandbox.reports[6]["id"]  # one new report on top: the changed one moved down
    [(seen, changed_at)] = rows(
        db, f"SELECT first_seen, changed_at FROM reports WHERE id = '{changed}'"
    )
    assert seen == first_seen
    assert changed_at is not None
    assert rows(db, "SELECT count(*) FROM reports") == [(61,)]


async def test_an_interrupted_run_resumes_after_its_last_committed_page(tmp_path: Path) -> None:
    sandbox = VoipanoSandbox(reports=100)
    db = tmp_path / "calls.db"
    async with sandbox.client(max_retries=0) as client:
        # Page 1, then the batch of pages 2-9, answer (None: no fault); page 10 fails for
        # good (resumes=0).
        sandbox.faults.script("/call-reports", *[None] * 9, *[Fault.error(503)] * 50)
        with pytest.raises(ServerError):
            await harvest_dataset(client, db, per_page=10, concurrency=1, resumes=0)
        [(last_page, new)] = rows(db, "SELECT last_page, reports_new FROM runs")
        sandbox.faults.clear()
        sandbox.requests.clear()
        counts = await harvest_dataset(client, db, per_page=10, concurrency=1)

    assert (last_page, new) == (9, 90)
    assert counts.resumed_after == 9
    assert counts.new == 100  # the run's whole count: 90 before, 10 after
    asked = sorted({int(r.query["page"]) for r in sandbox.requests})
    assert asked == [10]  # nothing up to the committed page again
    assert rows(db, "SELECT count(*), count(DISTINCT id) FROM reports") == [(100, 100)]
    assert rows(db, "SELECT count(*), min(finished_at IS NOT NULL) FROM runs") == [(1, 1)]


async def test_a_resumed_run_downloads_the_recordings_of_the_pages_it_does_not_walk(
    tmp_path: Path,
) -> None:
    sandbox = VoipanoSandbox(reports=100)
    db, saved = tmp_path / "calls.db", tmp_path / "recordings"
    async with sandbox.client(max_retries=0) as client:
        # Every download fails, and the walk fails for good after 9 pages (resumes=0).
        sandbox.faults.script("/call-recordings/*", *[Fault.error(503)] * 100)
        sandbox.faults.script("/call-reports", *[None] * 9, *[Fault.error(503)] * 50)
        with pytest.raises(ServerError):
            await harvest_dataset(
                client, db, recordings=saved, per_page=10, concurrency=1, resumes=0
            )
        assert rows(db, "SELECT last_page, count(*) FROM runs") == [(9, 1)]
        assert rows(db, "SELECT count(*) FROM recordings") == [(0,)]
        sandbox.faults.clear()
        sandbox.requests.clear()
        counts = await harvest_dataset(client, db, recordings=saved, per_page=10)

    with_recording = sum(r["has_recording"] for r in sandbox.reports)
    assert counts.resumed_after == 9
    assert counts.recordings_saved == with_recording  # pages 1-9's too, not walked again
    asked = [r.path for r in sandbox.requests if r.path.startswith("/call-recordings/")]
    assert len(asked) == len(set(asked)) == with_recording  # each once
    assert rows(db, "SELECT count(*) FROM recordings") == [(with_recording,)]
    assert len(list(saved.iterdir())) == with_recording


async def test_pages_committed_together_count_a_repeated_report_once(tmp_path: Path) -> None:
    # The writer commits the pages waiting for it in one transaction: a report that a
    # later page of the same batch repeats meets its first copy, as across transactions.
    sandbox = VoipanoSandbox(reports=30)
    async with sandbox.client() as client:
        page = await client.call_reports_page(1, per_page=10)
        later = await client.call_reports_page(2, per_page=10)
    dataset = ReportDataset(tmp_path / "calls.db")
    try:
        await dataset.start_run()
        await dataset.merge_pages([(1, page.items), (2, [*later.items, page.items[0]])])
        counts = await dataset.finish_run()
    finally:
        dataset.close()
    assert (counts.new, counts.changed, counts.unchanged) == (20, 0, 1)
    assert rows(tmp_path / "calls.db", "SELECT last_page, reports_new FROM runs") == [(2, 20)]
    assert rows(tmp_path / "calls.db", "SELECT count(DISTINCT id) FROM reports") == [(20,)]


async def test_a_failed_commit_counts_nothing(tmp_path: Path) -> None:
    sandbox = VoipanoSandbox(reports=10)
    async with sandbox.client() as client:
        page = await client.call_reports_page(1, per_page=10)
    dataset = ReportDataset(tmp_path / "calls.db")
    try:
        await dataset.start_run()
        broken = attrs.evolve(page.items[3], call_details_record_id=None)  # NOT NULL
        with pytest.raises(sqlite3.IntegrityError):
            await dataset.merge_pages([(1, [*page.items[:3], broken])])
        assert dataset.counts == RunCounts()
        await dataset.merge_pages([(1, page.items)])
        assert dataset.counts == RunCounts(new=10)
    finally:
        dataset.close()
    assert rows(tmp_path / "calls.db", "SELECT count(*) FROM reports") == [(10,)]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"id,call_source\n1,0912\n", "is not a SQLite database"),
        ("other app", "not a voipano dataset"),
        ("newer", f"newer than this voipano-async knows ({SCHEMA_VERSION})"),
    ],
)
def test_a_file_that_is_not_our_dataset_is_refused_untouched(
    tmp_path: Path, content: bytes | str, says: str
) -> None:
    path = tmp_path / "calls.db"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            if content == "newer":
                db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION + 1,))
            else:
                db.execute("CREATE TABLE invoices (id INTEGER)")
    before = path.read_bytes()

    done = subprocess.run(
        [
            *(sys.executable, "-m", "voipano_async.cli", "--sandbox", "harvest"),
            *("--dest", str(tmp_path / "h"), "--db", str(path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert says in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("Error: Invalid value for --db")
    assert path.read_bytes() == before
    assert not (tmp_path / "h").exists()  # refused before anything else


def test_a_new_file_gets_the_schema_version(tmp_path: Path) -> None:
    from voipano_async import ReportDataset

    dataset = ReportDataset(tmp_path / "calls.db")
    dataset.close()
    assert rows(tmp_path / "calls.db", "SELECT value FROM meta") == [(str(SCHEMA_VERSION),)]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_mid_harvest_then_a_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    db, dest = tmp_path / "calls.db", tmp_path / "harvest"
    command = [sys.executable, "-m", "voipano_async.cli", "--sandbox"]
    harvest = ["harvest", "--dest", str(dest), "--db", str(db), "--per-page", "10"]
    process = subprocess.Popen(
        [*command, "--sandbox-latency", "0.05", *harvest, "--concurrency", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until a few pages are committed
        try:
            if db.exists() and rows(db, "SELECT coalesce(max(last_page), 0) FROM runs")[0][0] >= 3:
                break
        except sqlite3.Error:  # not made yet
            pass
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    [(committed, finished)] = rows(db, "SELECT last_page, finished_at FROM runs")
    assert finished is None
    assert 3 <= committed < 30

    done = subprocess.run([*command, *harvest], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert re.search(rf"resumed after page {committed}\b", done.stderr), done.stderr
    assert rows(db, "SELECT count(*), count(DISTINCT id) FROM reports") == [(300, 300)]
    assert rows(db, "SELECT reports_new, finished_at IS NOT NULL FROM runs") == [(300, 1)]


async def test_the_guide_s_schema_and_queries_are_the_dataset_s(tmp_path: Path) -> None:
    """What docs/guides/harvesting.md shows runs against a harvested dataset."""
    guide = (Path(__file__).parent.parent / "docs" / "guides" / "harvesting.md").read_text()
    schema, queries = re.findall(r"```sql\n(.*?)```", guide, flags=re.S)
    db = tmp_path / "calls.db"
    async with VoipanoSandbox(reports=50).client() as client:
        await harvest_dataset(client, db, recordings=tmp_path / "recordings")

    with contextlib.closing(sqlite3.connect(db)) as connection:
        shown = {
            name: " ".join(sql.split())
            for name, sql in connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
        }
        for statement in filter(str.strip, re.sub(r"--[^\n]*", "", schema).split(";")):
            name = re.search(r"CREATE TABLE (\w+)", statement)
            assert name, statement
            table = name[1]
            # The same columns, in the same order, as the file has.
            body = re.sub(r"--[^\n]*", "", statement)
            wanted = re.findall(r"^ +(\w+) ", body, re.M) or [
                part.split()[0] for part in body[body.index("(") + 1 :].split(",")
            ]
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
            assert columns == wanted, (table, shown[table])
        answers = [
            connection.execute(query).fetchall()
            for query in filter(str.strip, re.sub(r"--[^\n]*", "", queries).split(";"))
        ]
    new_since, per_destination, without = answers
    assert len(new_since) == 50
    assert (
        sum(row[1] for row in per_destination) == rows(db, "SELECT count(*) FROM recordings")[0][0]
    )
    assert len(without) == 50 - sum(row[1] for row in per_destination)
