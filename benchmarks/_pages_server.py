"""Serve a sandbox's call report pages from memory, from aiohttp.web in its own process.

The uvicorn sandbox builds each page's JSON when it is asked for it, on one thread: eight
pages asked at once are answered one after another, so the last of them waits for the
other seven to be serialised, and a window of pages costs more than one round trip. That
is the server's time, not the client's schedule. This server asks an in-process sandbox
for every page once (``limit`` as given, pages past the last one included, for a window
that overshoots), keeps the bytes, and answers each request with them after ``latency``
seconds, every answer on its own, as a server with spare CPU would. Prints one JSON line
like ``_sandbox_server.py`` once listening, then serves until its standard input is
closed.

Run: ``python benchmarks/_pages_server.py --reports 10000 --per-page 100 --latency 0.02``.
"""

from __future__ import annotations

import argparse
import json
import sys

import _common
import anyio
import anyio.to_thread
import httpx2
from aiohttp import web

from voipano_async.testing import VoipanoSandbox
from voipano_async.testing._inprocess import IN_PROCESS_URL, InProcessTransport

PREFIX = "/api/v1/webservice"
JSON_TYPE = "application/json"
PAST_THE_END = 16  # pages past the last one kept too: a first window may ask for them


async def pages_of(sandbox: VoipanoSandbox, per_page: int) -> dict[int, bytes]:
    """Every page's answer, as the sandbox gives it, by page number."""
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    pages: dict[int, bytes] = {}
    async with httpx2.AsyncClient(
        transport=InProcessTransport(sandbox), base_url=IN_PROCESS_URL, headers=auth
    ) as http:
        page, last = 1, 1
        while page <= last + PAST_THE_END:
            response = await http.get("/call-reports", params={"page": page, "limit": per_page})
            response.raise_for_status()
            pages[page] = response.content
            if page == 1:
                last = json.loads(response.content)["data"]["pagination"]["last_page"]
            page += 1
    return pages


async def serve(args: argparse.Namespace) -> None:
    sandbox = VoipanoSandbox(reports=args.reports)
    pages = await pages_of(sandbox, args.per_page)
    expected = f"Bearer {sandbox.token}"
    latency = args.latency

    async def call_reports(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401)
        if request.query.get("limit") != str(args.per_page):
            return web.Response(status=400, text=f"this server serves limit={args.per_page}")
        body = pages.get(int(request.query.get("page", "1")))
        if body is None:
            return web.Response(status=404)
        if latency:
            await anyio.sleep(latency)
        return web.Response(body=body, headers={"Content-Type": JSON_TYPE})

    async with _common.aiohttp_get_site(f"{PREFIX}/call-reports", call_reports) as port:
        info = {
            "base_url": f"http://127.0.0.1:{port}{PREFIX}",
            "token": sandbox.token,
            "reports": len(sandbox.reports),
            "pages_kept": len(pages),
        }
        print(json.dumps(info), flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reports", type=int, default=300)
    p.add_argument("--per-page", type=int, default=100)
    p.add_argument("--latency", type=float, default=0.0)
    anyio.run(serve, p.parse_args(), backend="asyncio")


if __name__ == "__main__":
    main()
