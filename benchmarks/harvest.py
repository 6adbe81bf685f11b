"""Harvest every call report: ``call_reports(concurrency=1/4/8)`` against a sequential loop.

100 pages of 100 reports over loopback with 20 ms of latency on every answer (a realistic
round trip), from a server in its own process so that its CPU time does not compete with
the client's. Two servers, one after the other:

* **pages from memory** (``_pages_server.py``, the goal's): aiohttp.web answering each
  page with the sandbox's bytes for it, built once, every answer on its own after the
  latency, as a server with spare CPU does: what is measured is the client's schedule;
* **the sandbox** (uvicorn, ``_sandbox_server.py``): it builds each page's JSON when asked,
  on one thread, so pages asked together are answered one after another (``--same-process``
  serves it from the benchmark's own loop instead).

The reference is what a user writes by hand with httpx2: GET ``page=1..last_page`` with
``limit=100``, ``json.loads``, collect the items. Every variant must return the same ids in
the same order.

Run: ``python benchmarks/harvest.py [--quick] [--same-process]``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import _common
import anyio
import httpx2

from voipano_async import AsyncVoipano
from voipano_async.testing import VoipanoSandbox

NAME = "harvest"
PER_PAGE = 100
LATENCY = 0.02
ROUNDS = 5
CONCURRENCIES = (1, 4, 8)
TARGET = 7.5

Harvest = Callable[[], Awaitable[list[str]]]


BATCH_ROUNDS = 8  # the pager's batch: 8 x concurrency pages, slid through


def schedule_trips(pages: int, concurrency: int) -> int:
    """Round trips of the pager's schedule for a whole walk: batches of ``8 x concurrency``
    pages with ``concurrency`` in flight, each drained before the next; the first starts
    from page 1 with the rest of its first window beside it."""
    trips, rest = 0, pages
    while rest > 0:
        batch = min(BATCH_ROUNDS * concurrency, rest)
        trips += -(-batch // concurrency)
        rest -= batch
    return trips


def ideal_speedup(pages: int, concurrency: int) -> float:
    """The schedule's ceiling: a sequential loop's round trips over the pager's."""
    return pages / schedule_trips(pages, concurrency)


MEMORY = "pages from memory (aiohttp.web)"
SANDBOX = "the sandbox (uvicorn)"


@contextlib.asynccontextmanager
async def sandbox_url(
    reports: int, same_process: bool, server: str = SANDBOX
) -> AsyncIterator[dict[str, Any]]:
    if server == MEMORY:
        command = [
            *(sys.executable, str(_common.HERE / "_pages_server.py")),
            *("--reports", str(reports), "--per-page", str(PER_PAGE)),
            *("--latency", str(LATENCY)),
        ]
        with _common.served_process(command, "the pages server") as info:
            yield info
    elif same_process:
        sandbox = VoipanoSandbox(reports=reports)
        sandbox.latency = LATENCY
        async with sandbox.serve() as base_url:
            yield {"base_url": base_url, "token": sandbox.token}
    else:
        with _common.served_sandbox(reports=reports, latency=LATENCY) as info:
            yield info


async def run(reports: int, same_process: bool, server: str) -> dict[str, Any]:
    async with sandbox_url(reports, same_process, server) as info:
        base_url, token = info["base_url"], info["token"]
        raw = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        sdk = AsyncVoipano(token, base_url=base_url)
        async with raw, sdk:

            async def sequential() -> list[str]:
                ids: list[str] = []
                page = last = 1
                while page <= last:
                    response = await raw.get(
                        f"{base_url}/call-reports", params={"page": page, "limit": PER_PAGE}
                    )
                    response.raise_for_status()
                    data = json.loads(response.content)["data"]
                    ids.extend(item["id"] for item in data["items"])
                    last = data["pagination"]["last_page"]
                    page += 1
                return ids

            def pager(concurrency: int) -> Harvest:
                async def harvest() -> list[str]:
                    return [
                        report.id
                        async for report in sdk.call_reports(
                            per_page=PER_PAGE, concurrency=concurrency
                        )
                    ]

                return harvest

            variants: dict[str, Harvest] = {"sequential httpx2": sequential}
            for c in CONCURRENCIES:
                variants[f"SDK concurrency={c}"] = pager(c)

            # Warm-up (connections for 8 at once, cattrs hooks), and the correctness check.
            expected = await sequential()
            assert len(expected) == reports == len(set(expected)), len(expected)
            for name, harvest in variants.items():
                got = await harvest()
                assert got == expected, f"{name}: ids differ from the sequential loop"

            samples: dict[str, list[float]] = {name: [] for name in variants}
            cpu: dict[str, list[float]] = {name: [] for name in variants}
            names = list(variants)
            for round_number in range(ROUNDS):
                # Rotate the order each round, so drift on a noisy machine is shared.
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    ids = await variants[name]()
                    samples[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - cpu_start)
                    assert ids == expected, f"{name}: ids differ from the sequential loop"
    pages = -(-reports // PER_PAGE)
    seq = _common.summarize(samples["sequential httpx2"])
    figures: dict[str, Any] = {
        "reports": reports,
        "pages": pages,
        "per_page": PER_PAGE,
        "latency_s": LATENCY,
        "rounds": ROUNDS,
        "server": server,
        "server_process": "same process" if same_process and server == SANDBOX else "separate",
        "ids_identical": True,
        "variants": {},
    }
    for name, values in samples.items():
        s = _common.summarize(values)
        concurrency = 1 if name.startswith("sequential") else int(name.rsplit("=", 1)[1])
        figures["variants"][name] = {
            "seconds": s,
            "speedup_vs_sequential_median": seq["median"] / s["median"],
            "speedup_vs_sequential_best": seq["best"] / s["best"],
            "pager_ideal_speedup": ideal_speedup(pages, concurrency),
            "share_of_ceiling": (seq["median"] / s["median"]) / ideal_speedup(pages, concurrency),
            "ms_per_page_median": s["median"] / pages * 1000,
            # This process only (the client; the server's CPU is not in it by default).
            "client_cpu_ms_per_page_median": _common.summarize(cpu[name])["median"] / pages * 1000,
        }
    return figures


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument(
        "--same-process", action="store_true", help="serve the sandbox from this event loop"
    )
    args = p.parse_args()
    reports = 2_000 if args.quick else 10_000
    _common.header(
        f"harvest: {reports // PER_PAGE} pages x {PER_PAGE} reports, {LATENCY * 1000:.0f} ms "
        f"latency, wall time, {ROUNDS} rounds",
        args.quick,
    )
    by_server = {
        server: anyio.run(run, reports, args.same_process, server, backend="asyncio")
        for server in (MEMORY, SANDBOX)
    }
    for server, found in by_server.items():
        where = "its own process" if found["server_process"] == "separate" else "this process"
        print(f"\n   server: {server}, in {where}; ids identical in all variants: yes")
        rows = [
            [
                name,
                v["seconds"]["median"],
                v["seconds"]["best"],
                v["ms_per_page_median"],
                v["client_cpu_ms_per_page_median"],
                v["speedup_vs_sequential_median"],
                v["pager_ideal_speedup"],
                v["share_of_ceiling"],
            ]
            for name, v in found["variants"].items()
        ]
        print(
            _common.table(
                [
                    "variant",
                    "s median",
                    "s best",
                    "ms/page",
                    "client CPU ms/page",
                    "speedup",
                    "pager ideal",
                    "of ideal",
                ],
                rows,
            )
        )
    figures = {**by_server[MEMORY], "servers": by_server}
    seq = figures["variants"]["sequential httpx2"]["seconds"]["median"]
    checks = []
    for c in CONCURRENCIES:
        v = figures["variants"][f"SDK concurrency={c}"]
        target = TARGET if c == 8 else None
        checks.append(
            _common.check(
                f"harvest concurrency={c} (pages from memory)",
                v["seconds"]["median"],
                seq,
                v["speedup_vs_sequential_median"],
                f"speedup >= {target}x" if target else "(info)",
                v["speedup_vs_sequential_median"] >= target if target else True,
                unit="s",
            )
        )
    v8 = figures["variants"]["SDK concurrency=8"]
    checks.append(
        _common.check(
            "harvest concurrency=8, share of the schedule's ceiling (pages from memory)",
            v8["speedup_vs_sequential_median"],
            v8["pager_ideal_speedup"],
            v8["share_of_ceiling"],
            ">= 0.90 of the ceiling",
            v8["share_of_ceiling"] >= 0.90,
            unit="x",
        )
    )
    s8 = by_server[SANDBOX]["variants"]["SDK concurrency=8"]
    checks.append(
        _common.check(
            "harvest concurrency=8, share of the schedule's ceiling (the sandbox)",
            s8["speedup_vs_sequential_median"],
            s8["pager_ideal_speedup"],
            s8["share_of_ceiling"],
            "(info)",
            True,
            unit="x",
        )
    )
    _common.print_checks(checks)
    _common.write_results(NAME, args, figures, checks)


if __name__ == "__main__":
    main()
