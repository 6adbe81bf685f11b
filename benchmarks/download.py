"""Downloading a large recording: ``download_call_recording`` against raw httpx2 streaming.

The sandbox serves a ~200 MB WAV (8 kHz 16-bit mono, 13,107 s) over loopback from its own
process (it holds the WAV in memory). Every measurement runs in a fresh subprocess of
this script (``--worker sdk|raw``), which reports its wall time, CPU time and memory: RSS
just before the download against the peak during it (Linux: ``VmHWM`` after resetting it
through ``/proc/self/clear_refs``, cross-checked by a thread sampling ``/proc/self/statm``
every 2 ms; elsewhere ``ru_maxrss``).

The raw reference is what the httpx2 docs show::

    async with client.stream("GET", url, headers=auth) as r:
        with open(path, "wb") as f:
            async for chunk in r.aiter_bytes():
                f.write(chunk)

Run: ``python benchmarks/download.py [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common

NAME = "download"
ROUNDS = 5
FULL_SECONDS = 13_107  # 8,000 samples/s x 2 bytes = 16,000 bytes/s: ~200 MB
QUICK_SECONDS = 1_311  # ~20 MB
TARGET_RSS_MIB = 8.0
TARGET_THROUGHPUT = 0.95
MIB = 1024 * 1024
CHUNK = 64 * 1024  # the SDK's DOWNLOAD_CHUNK_SIZE


# -- memory, measured inside the worker --------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _statm_rss() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return None


def _vm_hwm() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _maxrss() -> int:
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


class Sampler(threading.Thread):
    """Samples this process's RSS every ``interval`` seconds, keeping the peak."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = _statm_rss() or 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            rss = _statm_rss()
            if rss is not None:
                self.peak = max(self.peak, rss)
                self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# -- the two ways of downloading -----------------------------------------------------------


async def sdk_download(info: dict[str, Any], dest: Path, measure: Any) -> Path:
    from voipano_async import AsyncVoipano

    async with AsyncVoipano(info["token"], base_url=info["base_url"]) as client:
        page = await client.call_reports_page(1, per_page=10, has_recording=True)
        report = next(r for r in page.items if r.call_details_record_id == info["recording_cdr"])
        async with measure():
            return await client.download_call_recording(report, dest)


async def raw_download(
    info: dict[str, Any], dest: Path, measure: Any, chunk_size: int | None = None
) -> Path:
    import httpx2

    cdr = info["recording_cdr"]
    auth = {"Authorization": f"Bearer {info['token']}"}
    url = f"{info['base_url']}/call-recordings/{cdr}"
    path = dest / f"recording-{cdr}.wav"
    async with httpx2.AsyncClient(timeout=120) as client:
        (await client.get(f"{info['base_url']}/services", headers=auth)).raise_for_status()
        async with measure():
            params = {"call_details_record_id": cdr}
            async with client.stream("GET", url, params=params, headers=auth) as r:
                r.raise_for_status()
                with open(path, "wb") as f:  # noqa: ASYNC230 - the docs' own recipe
                    async for chunk in r.aiter_bytes(chunk_size):
                        f.write(chunk)
    return path


async def raw_download_64k(info: dict[str, Any], dest: Path, measure: Any) -> Path:
    """Diagnostic: the raw recipe with ``aiter_bytes(64 KiB)``, the SDK's chunk size."""
    return await raw_download(info, dest, measure, CHUNK)


async def sdk_stream(info: dict[str, Any], dest: Path, measure: Any) -> Path:
    """Diagnostic: the SDK's ``stream_call_recording``, written inline as the raw recipe."""
    from voipano_async import AsyncVoipano

    path = dest / f"recording-{info['recording_cdr']}.wav"
    async with AsyncVoipano(info["token"], base_url=info["base_url"]) as client:
        page = await client.call_reports_page(1, per_page=10, has_recording=True)
        report = next(r for r in page.items if r.call_details_record_id == info["recording_cdr"])
        async with measure(), client.stream_call_recording(report) as audio:
            with open(path, "wb") as f:  # noqa: ASYNC230 - as the raw recipe does
                async for chunk in audio.aiter_bytes():
                    f.write(chunk)
    return path


WAYS = {
    "sdk": sdk_download,
    "raw": raw_download,
    "raw-64k": raw_download_64k,
    "sdk-stream": sdk_stream,
}
LABELS = {
    "sdk": "SDK download_call_recording",
    "raw": "raw httpx2 stream + f.write",
    "raw-64k": "  diag: raw, aiter_bytes(64 KiB)",
    "sdk-stream": "  diag: SDK stream_call_recording + f.write",
}


def worker(side: str, info: dict[str, Any], dest: Path, profile: bool) -> dict[str, Any]:
    import contextlib
    import gc

    import anyio

    result: dict[str, Any] = {"side": side}

    @contextlib.asynccontextmanager
    async def measure() -> Any:
        gc.collect()
        result["rss_before"] = _statm_rss()
        result["maxrss_before"] = _maxrss()
        result["hwm_reset"] = _reset_hwm()
        sampler = Sampler()
        sampler.start()
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            result["seconds"] = time.perf_counter() - wall
            result["cpu_seconds"] = time.process_time() - cpu
            sampler.stop()
            result["sampled_peak"] = sampler.peak
            result["samples"] = sampler.samples
            result["hwm_after"] = _vm_hwm()
            result["maxrss_after"] = _maxrss()

    profiler = cProfile.Profile() if profile else None

    @contextlib.asynccontextmanager
    async def measure_or_profile() -> Any:
        async with measure():
            if profiler is None:
                yield
                return
            profiler.enable()
            try:
                yield
            finally:
                profiler.disable()

    path = anyio.run(WAYS[side], info, dest, measure_or_profile, backend="asyncio")
    if profiler is not None:
        result["profile"] = profile_rows(profiler, 12)
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            digest.update(block)
    with open(path, "rb") as f:
        riff = f.read(4)
    path.unlink()
    before = result["rss_before"]
    peaks = [result["sampled_peak"]]
    if result["hwm_reset"] and result["hwm_after"] is not None:
        peaks.append(result["hwm_after"])
    if before is None:  # no /proc: the high-water mark of the whole process
        before, peaks = result["maxrss_before"], [result["maxrss_after"]]
    result.update(
        bytes=size,
        sha256=digest.hexdigest(),
        riff=riff == b"RIFF",
        rss_growth=max(peaks) - before,
        leftovers=sorted(p.name for p in dest.iterdir()),
    )
    return result


def profile_rows(profiler: cProfile.Profile, top: int) -> dict[str, list[dict[str, Any]]]:
    raw_stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, function), (_cc, ncalls, tottime, cumtime, _c) in raw_stats.items():
        where = filename
        for key in ("voipano_async", "httpcore2", "httpx2", "anyio", "h11", "asyncio"):
            index = filename.rfind(key)
            if index >= 0:
                where = filename[index:]
                break
        rows.append(
            {
                "function": f"{where}:{line}({function})",
                "ncalls": ncalls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
            }
        )
    by_self = sorted(rows, key=lambda row: row["tottime_s"], reverse=True)[:top]
    ours_prefixes = ("voipano_async", "httpx2", "anyio")
    ours = [row for row in rows if row["function"].startswith(ours_prefixes)]
    by_cumulative = sorted(ours, key=lambda row: row["cumtime_s"], reverse=True)[:top]
    return {"top_self": by_self, "top_cumulative": by_cumulative}


# -- the parent ----------------------------------------------------------------------------


def measure_once(
    side: str, info: dict[str, Any], dest: Path, *, profile: bool = False
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", side, "--info", json.dumps(info)]
    command += ["--dest", str(dest)]
    if profile:
        command.append("--profile")
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{side} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def served_fast(size: int) -> Iterator[dict[str, Any]]:
    """``_fast_server.py`` in a subprocess: the whole body written at once."""
    command = [sys.executable, str(_common.HERE / "_fast_server.py"), "--bytes", str(size)]
    with _common.served_process(command, "the fast server") as found:
        yield found


SERVERS = {
    "stdlib": "a stdlib http.server writing the whole body at once (faster than the client)",
    "sandbox": "the uvicorn sandbox (slower than the client)",
}


def measure_server(server: str, seconds: int, tmp: Path) -> dict[str, Any]:
    """Every way, ``ROUNDS`` times in rotated order, against one server; then a profile."""
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in WAYS}
    served = (
        _common.served_sandbox(recording_seconds=seconds, warm_recording=True)
        if server == "sandbox"
        else served_fast(seconds * 16_000 + 44)
    )
    with served as info:
        print(f"\n-- {SERVERS[server]}: {info['recording_bytes']:,} bytes at {info['base_url']}")
        sides = list(WAYS)
        for round_number in range(ROUNDS):
            # Rotate the order each round, so drift on a noisy machine is shared.
            shift = round_number % len(sides)
            for side in sides[shift:] + sides[:shift]:
                dest = tmp / f"{server}-{side}-{round_number}"
                dest.mkdir()
                runs[side].append(measure_once(side, info, dest))
        dest = tmp / f"{server}-profile"
        dest.mkdir()
        profiled = measure_once("sdk", info, dest, profile=True)

    expected = info["recording_bytes"]
    digests = {r["sha256"] for side in runs.values() for r in side}
    for side, results in runs.items():
        for r in results:
            assert r["bytes"] == expected, (side, r["bytes"], expected)
            assert r["riff"], side
            assert r["leftovers"] == [], (side, r["leftovers"])
    assert len(digests) == 1, "the SDK and raw downloads differ"

    figures: dict[str, Any] = {"bytes": expected, "rounds": ROUNDS, "runs": runs}
    figures["sdk_profile"] = profiled["profile"]
    for side, results in runs.items():
        mbps = [expected / 1e6 / r["seconds"] for r in results]
        figures[side] = {
            "mb_per_s": _common.summarize(mbps, higher_is_better=True),
            "cpu_seconds": _common.summarize([r["cpu_seconds"] for r in results]),
            "cpu_ms_per_mb": _common.summarize(
                [r["cpu_seconds"] * 1000 / (expected / 1e6) for r in results]
            ),
            "rss_growth_mib": _common.summarize([r["rss_growth"] / MIB for r in results]),
        }
    sdk, raw = figures["sdk"], figures["raw"]
    figures["throughput_ratio_best"] = sdk["mb_per_s"]["best"] / raw["mb_per_s"]["best"]
    rows = [
        [
            name,
            f["mb_per_s"]["best"],
            f["mb_per_s"]["median"],
            f["cpu_ms_per_mb"]["median"],
            f["rss_growth_mib"]["worst"],
            f["rss_growth_mib"]["median"],
        ]
        for name, f in ((LABELS[side], figures[side]) for side in WAYS)
    ]
    print(
        _common.table(
            ["variant", "MB/s best", "MB/s median", "CPU ms/MB", "RSS +MiB max", "RSS +MiB med"],
            rows,
        )
    )
    for key, title in (
        ("top_cumulative", "top by cumulative time in voipano_async / httpx2 / anyio"),
        ("top_self", "top by own time, any module"),
    ):
        print()
        print(
            f"cProfile of one SDK download ({profiled['seconds']:.2f} s profiled; main thread "
            f"only, the file writes run in a worker thread), {title}:"
        )
        print(
            _common.table(
                ["function", "ncalls", "tottime s", "cumtime s"],
                [
                    [r["function"], r["ncalls"], r["tottime_s"], r["cumtime_s"]]
                    for r in profiled["profile"][key]
                ],
            )
        )
    return figures


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--worker", choices=list(WAYS), help=argparse.SUPPRESS)
    p.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--info", help=argparse.SUPPRESS)
    p.add_argument("--dest", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS))
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(args.info), args.dest, args.profile)))
        return

    seconds = QUICK_SECONDS if args.quick else FULL_SECONDS
    _common.header(
        f"download: a {seconds * 16_000 / 1e6:.0f} MB WAV over loopback, best of {ROUNDS}, "
        "one subprocess per measurement",
        args.quick,
    )
    figures: dict[str, Any] = {}
    checks = []
    with tempfile.TemporaryDirectory(prefix="voipano-bench-") as tmp:
        for server in args.servers:
            found = figures[server] = measure_server(server, seconds, Path(tmp))
            sdk, raw = found["sdk"], found["raw"]
            ratio = found["throughput_ratio_best"]
            growth = sdk["rss_growth_mib"]["worst"]
            checks += [
                _common.check(
                    f"download throughput, {server} server",
                    sdk["mb_per_s"]["best"],
                    raw["mb_per_s"]["best"],
                    ratio,
                    f"ratio >= {TARGET_THROUGHPUT}",
                    ratio >= TARGET_THROUGHPUT,
                    unit="MB/s",
                ),
                _common.check(
                    f"download peak RSS growth, {server} server",
                    growth,
                    raw["rss_growth_mib"]["worst"],
                    None,
                    f"<= {TARGET_RSS_MIB:g} MiB",
                    growth <= TARGET_RSS_MIB,
                    unit="MiB",
                ),
            ]
    _common.print_checks(checks)
    _common.write_results(NAME, args, figures, checks)


if __name__ == "__main__":
    main()
