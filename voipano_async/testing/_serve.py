"""Serving an ASGI app (the sandbox) over HTTP with uvicorn, on a loopback port."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from ._wire import DroppedConnection

__all__ = ["serve"]

# An ASGI application, as uvicorn takes it.
App = Callable[[Any, Any, Any], Awaitable[None]]


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for every injected dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. Without it, uvicorn's separate writes of
        # headers and body meet the client's delayed ACK: 40 ms added to every answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def serve(app: App, host: str, port: int, path: str) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn (asyncio) while the block runs; yield its URL + ``path``."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            'serving the sandbox needs uvicorn: pip install "voipano-async[sandbox]"'
        ) from exc
    sock = _listen(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    quiet = _QuietDrops()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    # A wildcard address is where to listen, not where to connect: the URL names
    # the loopback address of the same family, which a client can reach.
    reachable = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    shown_host = f"[{reachable}]" if ":" in reachable else reachable
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            # uvicorn offers a flag, not an event, for "listening".
            while not server.started:  # noqa: ASYNC110
                await anyio.sleep(0.005)
            try:
                yield f"http://{shown_host}:{bound}{path}"
            finally:
                server.should_exit = True
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)
        sock.close()
