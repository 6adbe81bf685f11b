"""Per-call overhead: ``AsyncVoipano`` against raw httpx2 + ``json.loads``, CPU time per call.

Both clients talk to the same in-memory transport, which answers every request with a
prebuilt ``httpx2.Response`` holding the published payload, so what is measured is only
what happens in this process: building the request, httpx2's client machinery, decoding
and (for the SDK) structuring into models. The raw side does what a user would do by
hand: ``GET`` with the bearer header, check the status and ``ok``, ``json.loads`` the body
and read the items' ids.

Run: ``python benchmarks/overhead.py [--quick]``.
"""

from __future__ import annotations

import cProfile
import gc
import json
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any

import _common
import anyio
import httpx2

from voipano_async import AsyncVoipano, CallReportsPage
from voipano_async._envelope import decode_result

NAME = "overhead"
TARGET = 1.15
ROUNDS = 5

SERVICES_BYTES = _common.dumps(_common.PUBLISHED_SERVICES)
REPORTS_BYTES = _common.dumps(_common.reports_page(1, 10, page=1, per_page=10, total=100))
PREFIX = httpx2.URL(_common.BASE_URL).path.rstrip("/")


class StaticTransport(httpx2.AsyncBaseTransport):
    """Answers each API path with a new ``httpx2.Response`` around prebuilt JSON bytes."""

    def __init__(self, routes: dict[str, bytes]) -> None:
        self._routes = {PREFIX + path: payload for path, payload in routes.items()}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        payload = self._routes[request.url.path]
        return httpx2.Response(200, content=payload, headers=_common.JSON_HEADERS)


Call = Callable[[], Awaitable[list[Any]]]


def make_calls(sdk: AsyncVoipano, raw: httpx2.AsyncClient) -> dict[str, dict[str, Call]]:
    async def sdk_services() -> list[Any]:
        result = await sdk.services()
        return [service.subscription_id for service in result.items]

    async def raw_services() -> list[Any]:
        response = await raw.get("/services")
        if response.status_code != 200:
            raise RuntimeError(response.status_code)
        body = json.loads(response.content)
        if body.get("ok") is not True:
            raise RuntimeError(body)
        return [service["subscription_id"] for service in body["data"]["items"]]

    async def sdk_reports() -> list[Any]:
        page = await sdk.call_reports_page(1, per_page=10)
        return [report.id for report in page.items]

    async def raw_reports() -> list[Any]:
        response = await raw.get("/call-reports", params={"page": 1, "limit": 10})
        if response.status_code != 200:
            raise RuntimeError(response.status_code)
        body = json.loads(response.content)
        if body.get("ok") is not True:
            raise RuntimeError(body)
        return [report["id"] for report in body["data"]["items"]]

    return {
        "services": {"sdk": sdk_services, "raw": raw_services},
        "call_reports_page": {"sdk": sdk_reports, "raw": raw_reports},
    }


async def cpu_per_call(call: Call, n: int) -> float:
    """CPU microseconds per call over ``n`` calls."""
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - start) / n * 1e6


def components(n: int) -> dict[str, float]:
    """The decode step alone, each way, on the call-reports payload (CPU µs per call)."""
    response = httpx2.Response(200, content=REPORTS_BYTES, headers=_common.JSON_HEADERS)

    def timed(fn: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(ROUNDS):
            gc.collect()
            start = time.process_time()
            for _ in range(n):
                fn()
            best = min(best, (time.process_time() - start) / n * 1e6)
        return best

    def raw_decode() -> object:
        body = json.loads(response.content)
        return [report["id"] for report in body["data"]["items"]]

    def sdk_decode() -> object:
        page = decode_result(response, CallReportsPage, charged=False)
        return [report.id for report in page.items]

    return {"raw_decode_us": timed(raw_decode), "sdk_decode_us": timed(sdk_decode)}


def _ours(entry: tuple[str, int, str]) -> bool:
    filename = entry[0]
    return any(key in filename for key in ("voipano_async", "cattrs", "httpx2", "httpcore2"))


def _where(entry: tuple[str, int, str]) -> str:
    filename, line, function = entry
    for key in ("voipano_async", "cattrs", "httpcore2", "httpx2"):
        index = filename.rfind(key)
        if index >= 0:
            return f"{filename[index:]}:{line}({function})"
    return f"{filename}:{line}({function})"


def profile_rows(stats: pstats.Stats, calls: int, top: int) -> list[dict[str, Any]]:
    raw_stats: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for entry, (_cc, ncalls, tottime, cumtime, _callers) in raw_stats.items():
        if not _ours(entry):
            continue
        rows.append(
            {
                "function": _where(entry),
                "ncalls": ncalls,
                "tottime_us_per_api_call": tottime / calls * 1e6,
                "cumtime_us_per_api_call": cumtime / calls * 1e6,
            }
        )
    rows.sort(key=lambda row: row["cumtime_us_per_api_call"], reverse=True)
    return rows[:top]


def self_time_rows(stats: pstats.Stats, calls: int, top: int) -> list[dict[str, Any]]:
    raw_stats: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = [
        {
            "function": _where(entry),
            "ncalls": ncalls,
            "tottime_us_per_api_call": tottime / calls * 1e6,
        }
        for entry, (_cc, ncalls, tottime, _cum, _callers) in raw_stats.items()
    ]
    rows.sort(key=lambda row: row["tottime_us_per_api_call"], reverse=True)
    return rows[:top]


TELEMETRY = {
    "off": "OpenTelemetry unavailable (as when not installed)",
    "api": "opentelemetry-api, default global no-op providers",
    "sdk": "SDK TracerProvider + MeterProvider, no exporter",
}


def make_sdk(http: httpx2.AsyncClient, telemetry: str) -> AsyncVoipano:
    """The SDK client of one telemetry variant (see ``TELEMETRY``)."""
    if telemetry == "sdk":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider

        return AsyncVoipano(
            _common.TOKEN,
            base_url=_common.BASE_URL,
            http_client=http,
            tracer_provider=TracerProvider(),
            meter_provider=MeterProvider(),
        )
    sdk = AsyncVoipano(_common.TOKEN, base_url=_common.BASE_URL, http_client=http)
    if telemetry == "off":
        # What the first call finds when opentelemetry-api is not installed.
        sdk._transport.pool.telemetry._enabled = False
    return sdk


async def telemetry_variants(calls_per_round: int) -> dict[str, Any]:
    """CPU µs per call of each telemetry variant beside raw, rounds interleaved."""
    transport = StaticTransport({"/services": SERVICES_BYTES, "/call-reports": REPORTS_BYTES})
    raw = httpx2.AsyncClient(
        transport=transport,
        base_url=_common.BASE_URL,
        headers={"Authorization": f"Bearer {_common.TOKEN}"},
    )
    https = {name: httpx2.AsyncClient(transport=transport) for name in TELEMETRY}
    sdks = {name: make_sdk(https[name], name) for name in TELEMETRY}
    figures: dict[str, Any] = {}
    async with raw:
        for endpoint in ("services", "call_reports_page"):
            sides = {"raw": make_calls(sdks["off"], raw)[endpoint]["raw"]}
            for name, sdk in sdks.items():
                sides[name] = make_calls(sdk, raw)[endpoint]["sdk"]
            for call in sides.values():
                await cpu_per_call(call, max(50, calls_per_round // 10))
            samples: dict[str, list[float]] = {side: [] for side in sides}
            names = list(sides)
            for round_number in range(ROUNDS):
                shift = round_number % len(names)
                for side in names[shift:] + names[:shift]:
                    samples[side].append(await cpu_per_call(sides[side], calls_per_round))
            figures[endpoint] = {side: _common.summarize(s) for side, s in samples.items()}
    for sdk in sdks.values():
        await sdk.aclose()
    for http in https.values():
        await http.aclose()
    return figures


async def run(calls_per_round: int, profile_calls: int) -> dict[str, Any]:
    transport = StaticTransport({"/services": SERVICES_BYTES, "/call-reports": REPORTS_BYTES})
    raw = httpx2.AsyncClient(
        transport=transport,
        base_url=_common.BASE_URL,
        headers={"Authorization": f"Bearer {_common.TOKEN}"},
    )
    sdk_http = httpx2.AsyncClient(transport=transport)
    # The headline figure: the default install of the bench session, where
    # opentelemetry-api is there with no providers set (variant "api" below).
    sdk = AsyncVoipano(_common.TOKEN, base_url=_common.BASE_URL, http_client=sdk_http)
    figures: dict[str, Any] = {"calls_per_round": calls_per_round, "rounds": ROUNDS}
    async with raw, sdk_http, sdk:
        calls = make_calls(sdk, raw)
        for endpoint, pair in calls.items():
            ours, theirs = await pair["sdk"](), await pair["raw"]()
            assert ours == theirs, (endpoint, ours, theirs)
            # Warm up both (first-call imports, caches, cattrs hook generation).
            await cpu_per_call(pair["sdk"], max(50, calls_per_round // 10))
            await cpu_per_call(pair["raw"], max(50, calls_per_round // 10))
            samples: dict[str, list[float]] = {"sdk": [], "raw": []}
            for round_number in range(ROUNDS):
                # Alternate which side goes first, so drift on a noisy machine is shared.
                order = ("sdk", "raw") if round_number % 2 == 0 else ("raw", "sdk")
                for side in order:
                    samples[side].append(await cpu_per_call(pair[side], calls_per_round))
            ratios = [s / r for s, r in zip(samples["sdk"], samples["raw"], strict=True)]
            figures[endpoint] = {
                "sdk_us_per_call": _common.summarize(samples["sdk"]),
                "raw_us_per_call": _common.summarize(samples["raw"]),
                "ratio_of_medians": (
                    _common.summarize(samples["sdk"])["median"]
                    / _common.summarize(samples["raw"])["median"]
                ),
                "ratio_of_bests": min(samples["sdk"]) / min(samples["raw"]),
                "ratio_per_round": _common.summarize(ratios),
            }

        profiler = cProfile.Profile()
        sdk_reports = calls["call_reports_page"]["sdk"]
        profiler.enable()
        for _ in range(profile_calls):
            await sdk_reports()
        profiler.disable()
    stats = pstats.Stats(profiler)
    figures["profile"] = {
        "calls": profile_calls,
        "endpoint": "call_reports_page",
        "top_cumulative": profile_rows(stats, profile_calls, 15),
        "top_self": self_time_rows(stats, profile_calls, 15),
    }
    return figures


def main() -> None:
    args = _common.parser(__doc__.splitlines()[0]).parse_args()
    calls = 500 if args.quick else 5000
    _common.header(f"overhead: {calls} calls x {ROUNDS} rounds per side, CPU time", args.quick)
    figures = anyio.run(run, calls, 300 if args.quick else 1000, backend="asyncio")
    figures["components"] = components(calls)
    figures["telemetry"] = anyio.run(telemetry_variants, calls, backend="asyncio")

    rows = []
    checks = []
    for endpoint in ("services", "call_reports_page"):
        f = figures[endpoint]
        sdk, raw = f["sdk_us_per_call"], f["raw_us_per_call"]
        rows.append(
            [
                endpoint,
                sdk["median"],
                sdk["best"],
                raw["median"],
                raw["best"],
                f["ratio_of_bests"],
                f["ratio_of_medians"],
                f["ratio_per_round"]["best"],
                f["ratio_per_round"]["worst"],
            ]
        )
        # CPU time on a shared machine: noise only ever adds, so the best round is the
        # truest figure (as timeit advises); medians are shown beside it.
        ratio = f["ratio_of_bests"]
        checks.append(
            _common.check(
                f"overhead {endpoint}",
                sdk["best"],
                raw["best"],
                ratio,
                f"ratio <= {TARGET}",
                ratio <= TARGET,
                unit="CPU µs/call, best of 5",
            )
        )
    print()
    print(
        _common.table(
            [
                "endpoint",
                "SDK µs med",
                "SDK µs best",
                "raw µs med",
                "raw µs best",
                "SDK/raw best",
                "SDK/raw med",
                "ratio min",
                "ratio max",
            ],
            rows,
        )
    )
    print()
    print("telemetry variants (CPU µs per call, best of rounds; ratio to raw):")
    tel = figures["telemetry"]
    print(
        _common.table(
            ["variant", *(f"{e} µs" for e in tel), *(f"{e} ratio" for e in tel)],
            [
                [
                    "raw httpx2" if side == "raw" else TELEMETRY[side],
                    *(tel[e][side]["best"] for e in tel),
                    *(tel[e][side]["best"] / tel[e]["raw"]["best"] for e in tel),
                ]
                for side in ("raw", *TELEMETRY)
            ],
        )
    )
    comp = figures["components"]
    reports = figures["call_reports_page"]
    sdk_med = reports["sdk_us_per_call"]["best"]
    raw_med = reports["raw_us_per_call"]["best"]
    print()
    print("call_reports_page, where the time goes (CPU µs per call, best of rounds):")
    print(
        _common.table(
            ["part", "SDK", "raw", "SDK - raw"],
            [
                [
                    "decode (json.loads [+ envelope + cattrs])",
                    comp["sdk_decode_us"],
                    comp["raw_decode_us"],
                    comp["sdk_decode_us"] - comp["raw_decode_us"],
                ],
                [
                    "the rest (request, httpx2, response)",
                    sdk_med - comp["sdk_decode_us"],
                    raw_med - comp["raw_decode_us"],
                    (sdk_med - comp["sdk_decode_us"]) - (raw_med - comp["raw_decode_us"]),
                ],
                ["whole call (best round)", sdk_med, raw_med, sdk_med - raw_med],
            ],
        )
    )
    prof = figures["profile"]
    print()
    print(
        f"cProfile of {prof['calls']} SDK call_reports_page calls: top 15 by cumulative time"
        " in voipano_async / cattrs / httpx2 / httpcore2 (µs per API call, profiler-inflated):"
    )
    print(
        _common.table(
            ["function", "ncalls", "tottime µs", "cumtime µs"],
            [
                [
                    r["function"],
                    r["ncalls"],
                    r["tottime_us_per_api_call"],
                    r["cumtime_us_per_api_call"],
                ]
                for r in prof["top_cumulative"]
            ],
        )
    )
    print()
    print("top 15 by own (self) time, any module:")
    print(
        _common.table(
            ["function", "ncalls", "tottime µs"],
            [[r["function"], r["ncalls"], r["tottime_us_per_api_call"]] for r in prof["top_self"]],
        )
    )
    _common.print_checks(checks)
    _common.write_results(NAME, args, figures, checks)


if __name__ == "__main__":
    main()
