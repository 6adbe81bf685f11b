"""Harvests at scale (issue 29): a walk's memory, and harvests into the SQLite dataset.

Three measurements:

1. **A walk's memory.** ``async for report in client.call_reports(per_page=100,
   concurrency=4)`` over the in-process sandbox (``VoipanoSandbox(reports=N).client()``,
   its request log replaced by one that keeps nothing, so that it does not count), for
   N = 100,000 and 400,000 (``--quick``: 20,000 and 80,000). After a warm-up call and
   ``gc.collect()``, ``tracemalloc`` is started just before the walk (the sandbox is
   built before it); the figure is its peak minus what was traced when the walk began.
   Every report must come once: the count and a sum of the ids must match the sandbox's.
2. **Harvest speed.** The same harvest of 100,000 reports (``--quick``: 20,000), 100 a
   page, 4 pages at once, no recordings, from the sandbox served by uvicorn in its own
   process with 5 ms of latency on every answer: into JSON Lines as ``voipano reports
   export --format jsonl`` writes it (``cli._jobs.walk`` with ``render.ReportRows``), and
   into a new dataset file (``harvest_dataset``). One warm-up of each, then 5 rounds
   (``--quick``: 3), the order rotated each round; medians are compared. The sandbox's
   report ids are shaped as the API's, MongoDB ObjectIds that grow with time; the same
   two harvests are then timed (3 rounds) over a sandbox whose ids are in no order, the
   worst case for the dataset's index on ``id``, shown beside the goal, not judged.
3. **A re-run over an unchanged dataset.** In the same rounds, ``harvest_dataset`` into
   the file the last new-dataset harvest filled: it must count every report unchanged
   (``new=0, changed=0``), leave every row as it was but for ``last_seen`` (and move that
   on every row), add one finished run row and touch nothing else. Recordings are not
   downloaded in these timed harvests (about half of 100,000 reports have one); that a
   re-run downloads none is checked apart, on an in-process sandbox of 300 reports: a
   first harvest with ``recordings=`` saves every recording, the re-run requests none.

Run: ``python benchmarks/dataset.py [--quick]``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import _common
import anyio

from voipano_async import AsyncVoipano, RunCounts, harvest_dataset
from voipano_async._dataset import _Quiet
from voipano_async.cli import _render as render
from voipano_async.cli._jobs import Walk, walk
from voipano_async.testing import VoipanoSandbox

NAME = "dataset"
PER_PAGE = 100
CONCURRENCY = 4
LATENCY = 0.005
MIB = 1 << 20
# Goals (issue 29).
MEMORY_SPREAD = 1.10  # the longer walk's peak growth within 10% of the shorter one's
MEMORY_CAP = 16  # MiB
SPEED = 0.95  # of JSON Lines' speed
RECORDING_REPORTS = 300

JSONL = "JSON Lines export"
NEW = "dataset, new file"
RERUN = "dataset, re-run (unchanged)"
VARIANTS = (JSONL, NEW, RERUN)

# What a re-run must leave as it was: every column of a report but ``last_seen``.
REPORT_COLUMNS = (
    "id, call_details_record_id, call_source, call_destination, has_recording, "
    "recording_url, extra, content_hash, first_seen, changed_at"
)


# -- 1. a walk's memory ----------------------------------------------------------------


class _KeepNothing(list[Any]):
    """A request log that keeps nothing: the sandbox's own log would grow with the walk."""

    def append(self, item: object) -> None:
        pass


def _id_sum(ids: Any) -> int:
    """An order-free fingerprint of the ids walked: a repeat or a gap changes it."""
    return sum(int(i, 16) for i in ids)


async def walk_memory(reports: int) -> dict[str, Any]:
    sandbox = VoipanoSandbox(reports=reports)
    sandbox.requests = _KeepNothing()
    expected = _id_sum(r["id"] for r in sandbox.reports)
    async with sandbox.client() as client:
        await client.call_reports_page(1, per_page=PER_PAGE)  # converters, the pool
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            start = time.perf_counter()
            count = fingerprint = 0
            async for report in client.call_reports(per_page=PER_PAGE, concurrency=CONCURRENCY):
                count += 1
                fingerprint += int(report.id, 16)
            seconds = time.perf_counter() - start
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == reports, (count, reports)
    assert fingerprint == expected, "the walk repeated or left out reports"
    return {
        "reports": reports,
        "peak_growth_bytes": peak - base,
        "peak_growth_mib": (peak - base) / MIB,
        "retained_after_bytes": current - base,
        "seconds_under_tracemalloc": seconds,
        "each_report_once": True,
    }


# -- 2 and 3. harvests over a served sandbox -------------------------------------------


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def snapshot(path: Path) -> dict[str, Any]:
    """What a re-run must not change, and what it must (``last_seen``, the runs)."""
    db = sqlite3.connect(path)
    try:
        digest = hashlib.sha256()
        rows = 0
        for row in db.execute(f"SELECT {REPORT_COLUMNS} FROM reports ORDER BY id"):
            digest.update(repr(row).encode())
            rows += 1
        return {
            "reports": rows,
            "reports_sha256": digest.hexdigest(),
            "recordings": db.execute("SELECT * FROM recordings ORDER BY report_id").fetchall(),
            "meta": db.execute("SELECT * FROM meta ORDER BY key").fetchall(),
            "runs": db.execute(
                "SELECT id, started_at, finished_at, last_page, reports_new, reports_changed, "
                "reports_unchanged, recordings_saved FROM runs ORDER BY id"
            ).fetchall(),
            "tables": db.execute(
                "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
            ).fetchall(),
        }
    finally:
        db.close()


def rerun_differences(before: dict[str, Any], after: dict[str, Any], path: Path) -> list[str]:
    """How a re-run changed the dataset beyond ``last_seen`` and one new run row."""
    problems = []
    for key in ("reports", "reports_sha256", "recordings", "meta", "tables"):
        if before[key] != after[key]:
            problems.append(f"{key} changed")
    if after["runs"][:-1] != before["runs"] or len(after["runs"]) != len(before["runs"]) + 1:
        problems.append("the runs table changed other than by one new row")
    else:
        run = after["runs"][-1]
        # id, started_at, finished_at, last_page, new, changed, unchanged, recordings
        if run[2] is None:
            problems.append("the re-run's row is not finished")
        if tuple(run[4:]) != (0, 0, before["reports"], 0):
            problems.append(f"the re-run's row counts {run[4:]}")
        db = sqlite3.connect(path)
        try:
            stale = db.execute(
                "SELECT count(*) FROM reports WHERE last_seen < ?", (run[1],)
            ).fetchone()[0]
        finally:
            db.close()
        if stale:
            problems.append(f"{stale} reports kept a last_seen from before the re-run")
    return problems


def jsonl_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line)["id"] for line in file]


def dataset_ids(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT id FROM reports")]
    finally:
        db.close()


async def harvests(
    reports: int,
    rounds: int,
    directory: Path,
    *,
    random_ids: bool = False,
    names: tuple[str, ...] = VARIANTS,
) -> dict[str, Any]:
    pages = -(-reports // PER_PAGE)
    export = directory / "reports.jsonl"
    made = 0
    latest: dict[str, Path] = {}
    reruns: list[dict[str, Any]] = []

    with _common.served_sandbox(reports=reports, latency=LATENCY, random_ids=random_ids) as info:
        client = AsyncVoipano(info["token"], base_url=info["base_url"])
        async with client:

            async def to_jsonl() -> None:
                export.unlink(missing_ok=True)
                spec = Walk(
                    rows=render.ReportRows("jsonl"),
                    export=export,
                    concurrency=CONCURRENCY,
                    per_page=PER_PAGE,
                )
                tally = await walk(client, spec, _Quiet())
                assert tally.reports == reports, (tally.reports, reports)

            async def to_new_dataset() -> None:
                nonlocal made
                made += 1
                path = directory / f"reports-{made}.db"
                counts = await harvest_dataset(
                    client, path, per_page=PER_PAGE, concurrency=CONCURRENCY
                )
                assert counts == RunCounts(new=reports), counts
                if "db" in latest and latest["db"] != path:
                    _remove_db(latest["db"])
                latest["db"] = path

            async def rerun() -> None:
                counts = await harvest_dataset(
                    client, latest["db"], per_page=PER_PAGE, concurrency=CONCURRENCY
                )
                assert counts == RunCounts(unchanged=reports), counts

            variants: dict[str, Callable[[], Awaitable[None]]] = {
                JSONL: to_jsonl,
                NEW: to_new_dataset,
                RERUN: rerun,
            }

            # Warm-up (connections, hooks), and the check that both stores hold the same.
            await to_jsonl()
            await to_new_dataset()
            ids = jsonl_ids(export)
            assert len(ids) == reports == len(set(ids)), len(ids)
            assert sorted(ids) == sorted(dataset_ids(latest["db"])), "the stores differ"
            sizes = {
                "jsonl_bytes": export.stat().st_size,
                "dataset_bytes": latest["db"].stat().st_size,
            }

            samples: dict[str, list[float]] = {name: [] for name in names}
            cpu: dict[str, list[float]] = {name: [] for name in names}
            for round_number in range(rounds):
                # Rotate the order each round, so drift on a noisy machine is shared.
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    before = snapshot(latest["db"]) if name == RERUN else None
                    gc.collect()
                    start, cpu_start = time.perf_counter(), time.process_time()
                    await variants[name]()
                    samples[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - cpu_start)
                    if before is not None:
                        after = snapshot(latest["db"])
                        problems = rerun_differences(before, after, latest["db"])
                        reruns.append({"round": round_number, "problems": problems})

    figures: dict[str, Any] = {
        "reports": reports,
        "pages": pages,
        "per_page": PER_PAGE,
        "concurrency": CONCURRENCY,
        "latency_s": LATENCY,
        "rounds": rounds,
        "server": "separate process",
        "report_ids": "random" if random_ids else "growing with time, as the API's",
        "same_ids_in_both_stores": True,
        **sizes,
        "reruns": reruns,
        "variants": {},
    }
    jsonl = _common.summarize(samples[JSONL])
    for name in names:
        s = _common.summarize(samples[name])
        # This process only, every thread of it (SQLite and file writes run in threads).
        c = _common.summarize(cpu[name])
        figures["variants"][name] = {
            "seconds": s,
            "speed_vs_jsonl_median": jsonl["median"] / s["median"],
            "reports_per_s_median": reports / s["median"],
            "ms_per_page_median": s["median"] / pages * 1000,
            "client_cpu_seconds": c,
            "client_cpu_ms_per_page_median": c["median"] / pages * 1000,
        }
    return figures


async def recordings_rerun(directory: Path) -> dict[str, Any]:
    """A first harvest with recordings, then a re-run: it must download none."""
    sandbox = VoipanoSandbox(reports=RECORDING_REPORTS)
    sandbox.recording_seconds = 0.1
    with_recording = sum(1 for r in sandbox.reports if r["has_recording"])
    path, recordings = directory / "recordings.db", directory / "recordings"

    def downloads() -> int:
        return sum(1 for r in sandbox.requests if r.path.startswith("/call-recordings"))

    async with sandbox.client() as client:
        first = await harvest_dataset(client, path, recordings=recordings, per_page=PER_PAGE)
        downloaded_first = downloads()
        before = snapshot(path)
        second = await harvest_dataset(client, path, recordings=recordings, per_page=PER_PAGE)
        downloaded_again = downloads() - downloaded_first
    problems = rerun_differences(before, snapshot(path), path)
    assert first == RunCounts(new=RECORDING_REPORTS, recordings_saved=with_recording), first
    return {
        "reports": RECORDING_REPORTS,
        "with_recording": with_recording,
        "first_run": {"counts": str(first), "recording_requests": downloaded_first},
        "rerun": {"counts": str(second), "recording_requests": downloaded_again},
        "rerun_counts_ok": second == RunCounts(unchanged=RECORDING_REPORTS),
        "rerun_problems": problems,
    }


# -- the run ---------------------------------------------------------------------------


async def run(sizes: tuple[int, int], reports: int, rounds: int) -> dict[str, Any]:
    memory = [await walk_memory(n) for n in sizes]
    gc.collect()
    with tempfile.TemporaryDirectory(prefix="voipano-bench-") as tmp:
        harvest = await harvests(reports, rounds, Path(tmp))
        worst = await harvests(
            reports, max(3, rounds - 2), Path(tmp), random_ids=True, names=(JSONL, NEW)
        )
        recordings = await recordings_rerun(Path(tmp))
    return {
        "memory": memory,
        "harvest": harvest,
        "harvest_random_ids": worst,
        "recordings": recordings,
    }


def harvest_table(harvest: dict[str, Any], *, rate: bool) -> str:
    """The harvests' variants as a table (with reports per second when ``rate``)."""
    columns = ["s median", "s best", "s worst", "reports/s", "client CPU ms/page"]
    keys = ["median", "best", "worst", "reports_per_s_median", "client_cpu_ms_per_page_median"]
    if not rate:
        del columns[3], keys[3]
    rows = []
    for name, v in harvest["variants"].items():
        seconds = [v["seconds"][k] for k in keys[:3]]
        rows.append([name, *seconds, *(v[k] for k in keys[3:]), v["speed_vs_jsonl_median"]])
    return _common.table(["variant", *columns, "speed vs JSONL"], rows)


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    args = p.parse_args()
    sizes = (20_000, 80_000) if args.quick else (100_000, 400_000)
    reports = 20_000 if args.quick else 100_000
    rounds = 3 if args.quick else 5
    _common.header(
        f"dataset: walks of {sizes[0]:,} and {sizes[1]:,} reports (memory); harvests of "
        f"{reports:,} reports, {PER_PAGE} a page, {LATENCY * 1000:.0f} ms latency, "
        f"{rounds} rounds",
        args.quick,
    )
    figures = anyio.run(run, sizes, reports, rounds, backend="asyncio")

    small, large = figures["memory"]
    print("\nwalk, call_reports(per_page=100, concurrency=4), in-process sandbox, tracemalloc:")
    print(
        _common.table(
            ["reports", "peak growth MiB", "retained after", "s (traced)"],
            [
                [
                    m["reports"],
                    m["peak_growth_mib"],
                    m["retained_after_bytes"],
                    m["seconds_under_tracemalloc"],
                ]
                for m in figures["memory"]
            ],
        )
    )
    h = figures["harvest"]
    print(
        f"\nharvest of {h['reports']:,} reports over the served sandbox "
        f"(JSON Lines {h['jsonl_bytes'] / MIB:.1f} MiB, dataset {h['dataset_bytes'] / MIB:.1f} "
        "MiB); ids identical in both stores: yes"
    )
    print(harvest_table(h, rate=True))
    w = figures["harvest_random_ids"]
    print(
        f"\nthe same with report ids in no order ({w['rounds']} rounds; the worst case for "
        "the dataset's index on id, shown, not a goal):"
    )
    print(harvest_table(w, rate=False))
    rec = figures["recordings"]
    print(
        f"\nrecordings, {rec['reports']} reports in process: first run "
        f"{rec['first_run']['recording_requests']} downloads, re-run "
        f"{rec['rerun']['recording_requests']} ({rec['rerun']['counts']})"
    )

    checks = []
    growth_ratio = large["peak_growth_bytes"] / small["peak_growth_bytes"]
    checks.append(
        _common.check(
            f"walk of {large['reports']:,}: peak memory growth against {small['reports']:,}",
            large["peak_growth_mib"],
            small["peak_growth_mib"],
            growth_ratio,
            f"<= {MEMORY_SPREAD:.2f}x",
            growth_ratio <= MEMORY_SPREAD,
            unit="MiB",
        )
    )
    checks.append(
        _common.check(
            f"walk of {large['reports']:,}: peak memory growth",
            large["peak_growth_mib"],
            None,
            None,
            f"<= {MEMORY_CAP} MiB",
            large["peak_growth_mib"] <= MEMORY_CAP,
            unit="MiB",
        )
    )
    jsonl_s = h["variants"][JSONL]["seconds"]["median"]
    for name, label in ((NEW, "harvest into a new dataset"), (RERUN, "re-run, unchanged dataset")):
        v = h["variants"][name]
        checks.append(
            _common.check(
                f"{label}, {h['reports']:,} reports (reference: JSON Lines)",
                v["seconds"]["median"],
                jsonl_s,
                v["speed_vs_jsonl_median"],
                f"speed >= {SPEED}x",
                v["speed_vs_jsonl_median"] >= SPEED,
                unit="s",
            )
        )
    rerun_problems = [p for r in h["reruns"] for p in r["problems"]]
    correctness = [
        _common.check(
            f"re-run, {h['reports']:,} reports: changes beyond last_seen and the run row",
            len(rerun_problems),
            None,
            None,
            "0",
            not rerun_problems,
        ),
        _common.check(
            f"re-run with recordings, {rec['reports']} reports: recordings downloaded",
            rec["rerun"]["recording_requests"],
            rec["first_run"]["recording_requests"],
            None,
            "0",
            rec["rerun"]["recording_requests"] == 0
            and rec["rerun_counts_ok"]
            and not rec["rerun_problems"],
        ),
    ]
    checks += correctness
    _common.print_checks(checks)
    _common.write_results(NAME, args, figures, checks)
    failed = [c["metric"] for c in correctness if not c["met"]]
    if failed:
        problems = rerun_problems + rec["rerun_problems"]
        sys.exit(f"correctness check failed: {'; '.join(failed)} ({'; '.join(problems)})")


if __name__ == "__main__":
    main()
