"""Soak: thousands of mixed calls from many tasks against a faulty sandbox, over loopback.

Seeded random faults hit a fifth of all answers on every endpoint: 500, 502, 503, 429
with ``Retry-After``, connections dropped before and after the server acted, answers
slower than the read timeout, truncated JSON, HTML error pages and downloads broken off
midway. Some tasks are cancelled at random. The bounded run is part of the test suite;
``nox -s soak`` runs the long one (``SOAK_OPERATIONS``) and writes its figures to
``benchmarks/results/soak.json``.
"""

from __future__ import annotations

import collections
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from voipano_async import AsyncVoipano, VoipanoError
from voipano_async.testing import FAULT_KINDS, VoipanoSandbox
from voipano_async.testing._data import tone_wav

pytestmark = pytest.mark.anyio

OPERATIONS = int(os.environ.get("SOAK_OPERATIONS", "1000"))
TASKS = 24
DEADLINE = 30.0  # seconds any one operation may take before it counts as a hang
READ_TIMEOUT = 0.25
KINDS = list(FAULT_KINDS.values())
# The soak client's connection pool. The closing probe fills every connection of it at
# once, each request held by the server for PROBE_HOLD seconds.
POOL = 100
PROBE_HOLD = 0.5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the sandbox is served by uvicorn


def is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(item in remaining for item in needle)


async def test_soak(tmp_path: Path) -> None:
    sandbox = VoipanoSandbox(credit=10**9, reports=120)
    sandbox.recording_seconds = 0.5
    sandbox.faults.random(0.2, seed=2026, kinds=KINDS, slow_seconds=READ_TIMEOUT * 3)
    rng = random.Random(7)
    outcomes: collections.Counter[str] = collections.Counter()
    unexpected: list[str] = []
    hangs: list[str] = []
    walks_checked = downloads_checked = 0
    charged_ids: list[str] = []

    async with sandbox.serve() as base_url:
        timeout = httpx2.Timeout(READ_TIMEOUT, connect=5.0)
        # A dripped answer (a few bytes every READ_TIMEOUT * 3 / 20 s) never trips the read
        # timeout; only the deadline on the whole attempt ends it.
        http = httpx2.AsyncClient(
            limits=httpx2.Limits(max_connections=POOL, max_keepalive_connections=20)
        )
        client = AsyncVoipano(
            sandbox.token,
            base_url=base_url,
            timeout=timeout,
            deadline=READ_TIMEOUT * 2,
            http_client=http,
        )
        tasks_before = len(anyio.get_running_tasks())

        async def charged(n: int) -> None:
            soak_id = f"soak-{n}"
            charged_ids.append(soak_id)
            kind = rng.choice(["otp", "click", "secure"])
            extra = {"soak_id": soak_id}
            if kind == "otp":
                result: Any = await client.call_otp("09123456789", extra_body=extra)
            elif kind == "click":
                result = await client.click_to_call("09123456789", "09129876543", extra_body=extra)
            else:
                result = await client.secure_call("09123456789", "02191010001", extra_body=extra)
            assert result.billing.charged in (80, 120, 160)

        async def walk() -> None:
            nonlocal walks_checked
            before = [r["id"] for r in sandbox.reports]
            seen = [r.id async for r in client.call_reports(per_page=25, concurrency=4)]
            after = {r["id"] for r in sandbox.reports}
            assert len(seen) == len(set(seen)), "a report was yielded twice"
            assert is_subsequence(before, seen), "a report was missed or reordered"
            assert set(seen) <= after
            walks_checked += 1

        async def download(n: int) -> None:
            nonlocal downloads_checked
            report = rng.choice([r for r in sandbox.reports if r["has_recording"]])
            target = tmp_path / f"{n}.wav"
            path = await client.download_call_recording(report["id"], target)
            expected = tone_wav(report["id"], sandbox.recording_seconds)
            assert path.read_bytes() == expected, "a completed download differs"
            downloads_checked += 1

        async def read() -> None:
            services = await client.services()
            assert services.total == 2
            page = await client.call_reports_page(rng.randint(1, 4), per_page=25)
            assert len(page.items) <= 25

        async def operation(n: int) -> None:
            pick = rng.random()
            job = (
                charged(n)
                if pick < 0.3
                else download(n)
                if pick < 0.55
                else walk()
                if pick < 0.62
                else read()
            )
            try:
                with anyio.fail_after(DEADLINE):
                    if rng.random() < 0.05:
                        # Cancelled from outside at a random moment.
                        with anyio.move_on_after(rng.random() * 0.05):
                            await job
                        outcomes["cancelled-or-done"] += 1
                        return
                    await job
                outcomes["ok"] += 1
            except TimeoutError:
                hangs.append(f"operation {n}")
            except VoipanoError as error:
                outcomes[type(error).__name__] += 1
            except AssertionError as error:
                unexpected.append(f"wrong result in operation {n}: {error}")
            except Exception as error:  # the defect this test exists to catch
                unexpected.append(f"operation {n}: {type(error).__name__}: {error}")

        started = time.monotonic()
        queue = list(range(OPERATIONS))

        async def worker() -> None:
            while queue:
                await operation(queue.pop())

        async with anyio.create_task_group() as tg:
            for _ in range(TASKS):
                tg.start_soon(worker)
        elapsed = time.monotonic() - started

        # The server may still be finishing answers nobody waits for any more (a slow
        # answer past the client's timeout); give it the length of one before counting.
        with anyio.move_on_after(5):
            while sandbox.in_flight or len(anyio.get_running_tasks()) > tasks_before:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        extra_tasks = [t.name for t in anyio.get_running_tasks()][tasks_before:]
        leaked_tasks = len(anyio.get_running_tasks()) - tasks_before

        # No connection left busy: every connection of the pool carries a fresh request
        # at once. One that an interrupted operation left holding an unread answer keeps
        # a probe waiting for the pool past its pool timeout, and that probe fails.
        sandbox.faults.clear()
        sandbox.latency = PROBE_HOLD
        sandbox.most_in_flight = 0
        probe = client.with_options(
            timeout=httpx2.Timeout(PROBE_HOLD * 10, pool=PROBE_HOLD / 2),
            deadline=PROBE_HOLD * 10,
            max_retries=0,
        )
        busy: list[str] = []

        async def probe_once() -> None:
            try:
                await probe.services()
            except VoipanoError as error:
                busy.append(f"{type(error).__name__}: {error}")

        async with anyio.create_task_group() as tg:
            for _ in range(POOL):
                tg.start_soon(probe_once)
        probed_at_once = sandbox.most_in_flight
        await client.aclose()
        await http.aclose()

    # Charged calls: each reached the server at most once, unless it answered 429 first.
    duplicates = []
    by_id: dict[str, list[Any]] = collections.defaultdict(list)
    for request in sandbox.requests:
        if isinstance(request.json, dict) and "soak_id" in request.json:
            by_id[request.json["soak_id"]].append(request)
    for soak_id, attempts in by_id.items():
        if sum(a.acted for a in attempts) > 1:
            duplicates.append(soak_id)
        for earlier in attempts[:-1]:
            if earlier.status != 429 or earlier.acted:
                duplicates.append(f"{soak_id} re-sent after {earlier.status} ({earlier.fault})")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]

    faults = collections.Counter(r.fault for r in sandbox.requests if r.fault)
    figures = {
        "operations": OPERATIONS,
        "tasks": TASKS,
        "requests": len(sandbox.requests),
        "faults_injected": sum(faults.values()),
        "faults_by_kind": dict(sorted(faults.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "charged_calls": len(charged_ids),
        "walks_checked": walks_checked,
        "downloads_checked": downloads_checked,
        "unexpected_exceptions": len(unexpected),
        "hangs": len(hangs),
        "duplicate_charges": len(duplicates),
        "partial_files": len(leftovers),
        "busy_connections": len(busy),
        "leaked_tasks": leaked_tasks,
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(figures, indent=2))
    results = os.environ.get("SOAK_RESULTS")
    if results:
        Path(results).write_text(json.dumps(figures, indent=2) + "\n")

    assert unexpected == []
    assert hangs == []
    assert duplicates == []
    assert leftovers == []
    assert busy == []
    assert probed_at_once == POOL, "the probe's requests did not all run side by side"
    assert leaked_tasks == 0, extra_tasks
    assert set(faults) == set(FAULT_KINDS), "every kind of fault was tried"
    assert walks_checked > 0
    assert downloads_checked > 0
    assert outcomes["ok"] > 0
