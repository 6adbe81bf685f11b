"""Over real sockets: client CPU per call and calls/s, SDK and raw clients, concurrency 1/8/64.

An aiohttp.web server in its own process (this script with ``--serve``) answers
``GET /call-reports`` over loopback with a page of 10 reports, taken from the sandbox's own
answer to ``/call-reports?page=1&limit=10`` (the API's JSON envelope,
``Content-Type: application/json``, keep-alive on, no access log). In this process, four
clients call it, each with that many worker tasks sharing one client (concurrency 1, 8 and
64):

* raw aiohttp: one ``aiohttp.ClientSession``, ``GET`` + ``json.loads`` + reading the ids;
* raw httpx2: one ``httpx2.AsyncClient`` (limits 100/20, as the SDK's), the same;
* the SDK on httpx2: ``AsyncVoipano(token, base_url=...).call_reports_page(1, per_page=10)``;
* the SDK on aiohttp: the same with ``http_client=DefaultAioHttpClient()``.

What is measured is this process only: ``time.process_time()`` per call (the server's CPU
is not in it) and calls per second of wall time. Each (client, concurrency) is measured on
a fresh client after a warm-up at the same concurrency, over 3,000 calls (``--quick``: 600),
3 rounds in rotating order (``--quick``: 1); medians are compared, in the same run.

Run: ``python benchmarks/sockets.py [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import _common
import aiohttp
import anyio
import anyio.to_thread
import httpx2
from aiohttp import web

from voipano_async import AsyncVoipano, DefaultAioHttpClient
from voipano_async.testing import VoipanoSandbox

NAME = "sockets"
CONCURRENCIES = (1, 8, 64)
WARMUP = 200
RAW_AIOHTTP = "raw aiohttp"
RAW_HTTPX2 = "raw httpx2"
SDK_HTTPX2 = "SDK on httpx2"
SDK_AIOHTTP = "SDK on DefaultAioHttpClient"
KINDS = (RAW_AIOHTTP, RAW_HTTPX2, SDK_HTTPX2, SDK_AIOHTTP)
# Goals (issue 28): each SDK client against the raw library under it, CPU per call.
GOALS = {SDK_AIOHTTP: (RAW_AIOHTTP, 2.0, (8, 64)), SDK_HTTPX2: (RAW_HTTPX2, 1.15, (1, 8, 64))}
PREFIX = httpx2.URL(_common.BASE_URL).path.rstrip("/")
QUERY = {"page": 1, "limit": 10}
AUTH = {"Authorization": f"Bearer {_common.TOKEN}"}
JSON_TYPE = "application/json"

Call = Callable[[], Awaitable[list[str]]]


# -- the server, in its own process ----------------------------------------------------


async def sandbox_page(base_url: str) -> bytes:
    """The sandbox's answer to ``/call-reports?page=1&limit=10``, as served at ``base_url``."""
    sandbox = VoipanoSandbox(reports=100)
    transport = httpx2.ASGITransport(app=sandbox)
    async with httpx2.AsyncClient(transport=transport) as http:
        response = await http.get(
            f"{base_url}/call-reports",
            params=QUERY,
            headers={"Authorization": f"Bearer {sandbox.token}"},
        )
    response.raise_for_status()
    body = response.content
    items = json.loads(body)["data"]["items"]
    assert len(items) == 10, len(items)
    return body


async def serve() -> None:
    """Serve the page from aiohttp.web; print one JSON line; stop when stdin closes."""
    answer: dict[str, bytes] = {}

    async def call_reports(request: web.Request) -> web.Response:
        return web.Response(body=answer["body"], headers={"Content-Type": JSON_TYPE})

    async with _common.aiohttp_get_site(f"{PREFIX}/call-reports", call_reports) as port:
        base_url = f"http://127.0.0.1:{port}{PREFIX}"
        answer["body"] = await sandbox_page(base_url)
        info = {"base_url": base_url, "body_bytes": len(answer["body"])}
        print(json.dumps(info), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


# -- the clients -----------------------------------------------------------------------


def _ids(body: dict[str, Any]) -> list[str]:
    if body.get("ok") is not True:
        raise RuntimeError(body)
    return [report["id"] for report in body["data"]["items"]]


@contextlib.asynccontextmanager
async def opened(kind: str, base_url: str) -> AsyncIterator[Call]:
    """A fresh client of ``kind`` and its call (the page's report ids); closed after."""
    url = f"{base_url}/call-reports"
    if kind == RAW_AIOHTTP:
        async with aiohttp.ClientSession(headers=AUTH) as session:

            async def raw_aiohttp() -> list[str]:
                async with session.get(url, params=QUERY) as response:
                    if response.status != 200:
                        raise RuntimeError(response.status)
                    body = json.loads(await response.read())
                return _ids(body)

            yield raw_aiohttp
    elif kind == RAW_HTTPX2:
        limits = httpx2.Limits(max_connections=100, max_keepalive_connections=20)
        async with httpx2.AsyncClient(limits=limits, headers=AUTH) as raw:

            async def raw_httpx2() -> list[str]:
                response = await raw.get(url, params=QUERY)
                if response.status_code != 200:
                    raise RuntimeError(response.status_code)
                return _ids(json.loads(response.content))

            yield raw_httpx2
    else:
        http = DefaultAioHttpClient() if kind == SDK_AIOHTTP else None
        sdk = AsyncVoipano(_common.TOKEN, base_url=base_url, http_client=http)
        try:

            async def sdk_call() -> list[str]:
                page = await sdk.call_reports_page(1, per_page=10)
                return [report.id for report in page.items]

            yield sdk_call
        finally:
            await sdk.aclose()
            if http is not None:
                await http.aclose()


async def drive(call: Call, calls: int, concurrency: int) -> None:
    """``calls`` calls shared by ``concurrency`` worker tasks."""
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)


async def measure(kind: str, base_url: str, calls: int, concurrency: int) -> tuple[float, float]:
    """CPU µs per call of this process, and calls per second, on a fresh client."""
    async with opened(kind, base_url) as call:
        await drive(call, max(WARMUP, 4 * concurrency), concurrency)
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        await drive(call, calls, concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / calls * 1e6, calls / wall


async def run(base_url: str, calls: int, rounds: int) -> dict[str, Any]:
    # The correctness check (and first-call work: imports, cattrs hooks): same ids.
    got = {}
    for kind in KINDS:
        async with opened(kind, base_url) as call:
            got[kind] = await call()
    expected = got[RAW_AIOHTTP]
    assert len(expected) == 10, expected
    for kind, ids in got.items():
        assert ids == expected, f"{kind}: ids differ from raw aiohttp's"

    cpu: dict[tuple[str, int], list[float]] = {(k, c): [] for k in KINDS for c in CONCURRENCIES}
    rate: dict[tuple[str, int], list[float]] = {key: [] for key in cpu}
    for round_number in range(rounds):
        # Rotate the order each round, so drift on a noisy machine is shared.
        shift = round_number % len(KINDS)
        order = KINDS[shift:] + KINDS[:shift]
        for concurrency in CONCURRENCIES:
            for kind in order:
                us, per_s = await measure(kind, base_url, calls, concurrency)
                cpu[(kind, concurrency)].append(us)
                rate[(kind, concurrency)].append(per_s)

    figures: dict[str, Any] = {
        "calls": calls,
        "rounds": rounds,
        "warmup_calls": {c: max(WARMUP, 4 * c) for c in CONCURRENCIES},
        "server": "aiohttp.web in its own process, loopback, keep-alive",
        "ids_identical": True,
        "concurrency": {},
    }
    for concurrency in CONCURRENCIES:
        entry: dict[str, Any] = {}
        for kind in KINDS:
            entry[kind] = {
                "cpu_us_per_call": _common.summarize(cpu[(kind, concurrency)]),
                "calls_per_s": _common.summarize(rate[(kind, concurrency)], higher_is_better=True),
            }
        for kind in KINDS:
            median = entry[kind]["cpu_us_per_call"]["median"]
            entry[kind]["ratio_to_raw_aiohttp"] = (
                median / entry[RAW_AIOHTTP]["cpu_us_per_call"]["median"]
            )
            entry[kind]["ratio_to_raw_httpx2"] = (
                median / entry[RAW_HTTPX2]["cpu_us_per_call"]["median"]
            )
        figures["concurrency"][str(concurrency)] = entry
    return figures


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        anyio.run(serve, backend="asyncio")
        return
    calls = 600 if args.quick else 3000
    rounds = 1 if args.quick else 3
    _common.header(
        f"sockets: {calls} calls x {rounds} rounds per client and concurrency, loopback, "
        "client CPU time",
        args.quick,
    )
    command = [sys.executable, __file__, "--serve"]
    with _common.served_process(command, "the aiohttp server") as info:
        print(
            f"   server: aiohttp.web in its own process, {info['body_bytes']} bytes a page; "
            f"aiohttp {aiohttp.__version__}"
        )
        figures = anyio.run(run, info["base_url"], calls, rounds, backend="asyncio")
    figures["body_bytes"] = info["body_bytes"]
    figures["aiohttp"] = aiohttp.__version__

    print()
    rows = []
    for concurrency in CONCURRENCIES:
        entry = figures["concurrency"][str(concurrency)]
        for kind in KINDS:
            f = entry[kind]
            rows.append(
                [
                    concurrency,
                    kind,
                    f["cpu_us_per_call"]["median"],
                    f["cpu_us_per_call"]["best"],
                    f["cpu_us_per_call"]["worst"],
                    f["calls_per_s"]["median"],
                    f["ratio_to_raw_aiohttp"],
                    f["ratio_to_raw_httpx2"],
                ]
            )
    print(
        _common.table(
            [
                "concurrency",
                "client",
                "CPU µs/call med",
                "best",
                "worst",
                "calls/s med",
                "/ raw aiohttp",
                "/ raw httpx2",
            ],
            rows,
        )
    )

    median = "median" if rounds > 1 else "1 round"
    checks = []
    for kind, (reference, target, goal_at) in GOALS.items():
        for concurrency in CONCURRENCIES:
            entry = figures["concurrency"][str(concurrency)]
            ours = entry[kind]["cpu_us_per_call"]["median"]
            theirs = entry[reference]["cpu_us_per_call"]["median"]
            ratio = ours / theirs
            goal = concurrency in goal_at
            checks.append(
                _common.check(
                    f"sockets {kind}, concurrency={concurrency}",
                    ours,
                    theirs,
                    ratio,
                    f"<= {target}x {reference}" if goal else f"(info; / {reference})",
                    ratio <= target if goal else True,
                    unit=f"CPU µs/call, {median}",
                )
            )
    _common.print_checks(checks)
    _common.write_results(NAME, args, figures, checks)


if __name__ == "__main__":
    main()
