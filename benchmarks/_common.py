"""Shared helpers for the benchmark scripts: arguments, machine info, tables, results.

Every script is run as ``python benchmarks/<name>.py [--quick]``; this directory is then
``sys.path[0]``, so the scripts import this module as ``_common``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

LIBRARIES = [
    "voipano-async",
    "httpx2",
    "httpcore2",
    "h11",
    "anyio",
    "attrs",
    "cattrs",
    "uvicorn",
    "pydantic",
    "pydantic-core",
]

BASE_URL = "https://api.voipano.test/api/v1/webservice"
TOKEN = "benchmark-token-0123456789"
JSON_HEADERS = {"content-type": "application/json"}

# The vendor's published samples (shared/voipano-api.md), as the API sends them.
PUBLISHED_SERVICES: dict[str, Any] = {
    "ok": True,
    "data": {
        "items": [
            {
                "subscription_id": 12,
                "status": "active",
                "remaining_days": 26,
                "package": {"id": 2, "name": "پلن پیوند", "slug": "peyvand"},
                "phone_number": "002191010001",
            }
        ],
        "total": 1,
    },
    "billing": {"charged": 0, "unit_price": 0},
}


def published_report(n: int, *, extra: bool = False, has_recording: bool = True) -> dict[str, Any]:
    """A call report shaped like the published sample, numbered ``n`` (24-hex-digit id).

    ``extra`` adds the keys the sandbox (and, by the API notes, the live API) sends beyond
    the published sample: ``duration``, ``disposition``, ``started_at``.
    """
    rid = f"67bc8ea2f8f8{n:012x}"
    report: dict[str, Any] = {
        "id": rid,
        "call_details_record_id": rid,
        "call_source": "09123***789",
        "call_destination": "09129***543",
        "has_recording": has_recording,
        "recording_url": (
            f"https://example.com/api/v1/webservice/call-recordings/{rid}"
            f"?call_details_record_id={rid}"
            if has_recording
            else None
        ),
    }
    if extra:
        started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=7 * n)
        report["duration"] = 5 + n % 595 if has_recording else 0
        report["disposition"] = "ANSWERED" if has_recording else "NO ANSWER"
        report["started_at"] = started.isoformat().replace("+00:00", "Z")
    return report


def reports_page(
    first: int, count: int, *, page: int, per_page: int, total: int, extra: bool = False
) -> dict[str, Any]:
    """A whole ``/call-reports`` answer (envelope, data, pagination, billing)."""
    return {
        "ok": True,
        "data": {
            "endpoint_number": "02191010001",
            "items": [
                published_report(n, extra=extra, has_recording=n % 3 != 2)
                for n in range(first, first + count)
            ],
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "last_page": max(1, -(-total // per_page)),
            },
        },
        "billing": {"charged": 0, "unit_price": 0},
    }


def dumps(payload: Any) -> bytes:
    """JSON bytes as the server sends them (UTF-8, Persian kept as is)."""
    return json.dumps(payload, ensure_ascii=False).encode()


# -- arguments and results -------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smaller run, for CI smoke use")
    p.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS,
        help=f"where <name>.json is written (default: {RESULTS})",
    )
    return p


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    status = _git("status", "--porcelain", "--", "voipano_async")
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "load_average": load,
        "libraries": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "package_modified": bool(status) if status is not None else None,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def check(
    metric: str,
    ours: float | None,
    reference: float | None,
    ratio: float | None,
    target: str,
    met: bool,
    unit: str = "",
) -> dict[str, Any]:
    """One row of the summary table: how a figure compares with its target."""
    return {
        "metric": metric,
        "ours": ours,
        "reference": reference,
        "ratio": ratio,
        "unit": unit,
        "target": target,
        "met": met,
    }


def write_results(
    name: str, args: argparse.Namespace, figures: dict[str, Any], checks: list[dict[str, Any]]
) -> Path:
    directory: Path = args.results_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    payload = {
        "benchmark": name,
        "quick": bool(args.quick),
        "machine": machine_info(),
        "figures": figures,
        "checks": checks,
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")
    return path


# -- figures and tables ----------------------------------------------------------------


def summarize(samples: Sequence[float], *, higher_is_better: bool = False) -> dict[str, Any]:
    """Best, median and worst of a figure's samples (best is the lowest unless told)."""
    best, worst = (max, min) if higher_is_better else (min, max)
    return {
        "best": best(samples),
        "median": statistics.median(samples),
        "worst": worst(samples),
        "samples": list(samples),
    }


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        return f"{value:.{digits}g}" if magnitude < 1 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def print_checks(checks: list[dict[str, Any]]) -> None:
    print()
    print(
        table(
            ["metric", "ours", "reference", "ratio", "target", "met?"],
            [
                [
                    c["metric"] + (f" ({c['unit']})" if c["unit"] else ""),
                    c["ours"],
                    c["reference"],
                    c["ratio"],
                    c["target"],
                    c["met"],
                ]
                for c in checks
            ],
        )
    )


def header(title: str, quick: bool) -> None:
    info = machine_info()
    print(f"== {title}{' (quick)' if quick else ''}")
    print(
        f"   python {info['python']} on {info['platform']}, {info['cpu_count']} CPUs, "
        f"load {info['load_average']}, httpx2 {info['libraries']['httpx2']}, "
        f"cattrs {info['libraries']['cattrs']}"
    )


# -- a sandbox served from its own process ---------------------------------------------


@contextlib.contextmanager
def served_sandbox(
    *,
    reports: int = 300,
    latency: float = 0.0,
    recording_seconds: float = 2.0,
    warm_recording: bool = False,
    random_ids: bool = False,
) -> Iterator[dict[str, Any]]:
    """Run ``_sandbox_server.py`` in a subprocess; yield what it printed (``base_url``, ...).

    The server lives in its own process so that its CPU time and memory (it holds the WAV
    it serves) are not counted against the client being measured.
    """
    command = [
        sys.executable,
        str(HERE / "_sandbox_server.py"),
        "--reports",
        str(reports),
        "--latency",
        str(latency),
        "--recording-seconds",
        str(recording_seconds),
    ]
    if warm_recording:
        command.append("--warm-recording")
    if random_ids:
        command.append("--random-ids")
    with served_process(command, "the sandbox server") as found:
        yield found


@contextlib.contextmanager
def served_process(command: list[str], name: str) -> Iterator[dict[str, Any]]:
    """Run a benchmark server; yield the JSON line it prints first; stop it by closing stdin."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{name} exited early (code {proc.wait()})")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the server stops when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def aiohttp_get_site(
    path: str, handler: Callable[[Any], Awaitable[Any]]
) -> AsyncIterator[int]:
    """Serve ``GET path`` with ``handler`` from aiohttp.web on loopback; yield the port.

    The benchmarks' fast servers (``sockets.py --serve``, ``_pages_server.py``); aiohttp is
    imported here, so that the scripts that do not serve need not have it.
    """
    from aiohttp import web

    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=75.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # the asyncio server, for the port it was given
        yield server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()
