"""Serve a ``VoipanoSandbox`` over loopback from its own process, for the benchmarks.

Prints one JSON line (``base_url``, ``token``, ``recording_cdr``, ``recording_bytes``)
once listening, then serves until its standard input is closed.

Run: ``python benchmarks/_sandbox_server.py --reports 10000 --latency 0.02``
(``--random-ids``: report ids in no order, where the API's grow with time).
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import anyio
import anyio.to_thread
import httpx2

from voipano_async.testing import VoipanoSandbox


async def serve(args: argparse.Namespace) -> None:
    sandbox = VoipanoSandbox(reports=args.reports)
    if args.random_ids:
        # Ids in no order (the API's, like the sandbox's, grow with time): the worst case
        # for an index on them.
        rng = random.Random(1)
        for report in sandbox.reports:
            report["id"] = report["call_details_record_id"] = f"{rng.getrandbits(96):024x}"
    sandbox.recording_seconds = args.recording_seconds
    cdr = next(r["call_details_record_id"] for r in sandbox.reports if r["has_recording"])
    async with sandbox.serve() as base_url:
        size = None
        if args.warm_recording:
            # The sandbox caches the WAV it generates: fetch it once, so the measured
            # downloads stream it rather than wait for it to be built.
            url = f"{base_url}/call-recordings/{cdr}"
            headers = {"Authorization": f"Bearer {sandbox.token}"}
            async with (
                httpx2.AsyncClient(timeout=120) as http,
                http.stream("GET", url, headers=headers) as response,
            ):
                response.raise_for_status()
                size = 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
        sandbox.latency = args.latency
        info = {
            "base_url": base_url,
            "token": sandbox.token,
            "recording_cdr": cdr,
            "recording_bytes": size,
            "reports": len(sandbox.reports),
        }
        print(json.dumps(info), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reports", type=int, default=300)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--recording-seconds", type=float, default=2.0)
    p.add_argument("--warm-recording", action="store_true")
    p.add_argument("--random-ids", action="store_true")
    anyio.run(serve, p.parse_args(), backend="asyncio")


if __name__ == "__main__":
    main()
