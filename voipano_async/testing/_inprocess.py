"""Reaching the sandbox in process: an httpx2 transport with no sockets (asyncio and trio)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx2

from ._vendor import API_PREFIX
from ._wire import DroppedConnection

if TYPE_CHECKING:
    from ._sandbox import VoipanoSandbox

__all__ = ["IN_PROCESS_URL", "InProcessTransport"]

# A host that can never resolve: a request that leaves the process fails loudly.
IN_PROCESS_URL = "https://sandbox.voipano.invalid" + API_PREFIX


class InProcessTransport(httpx2.AsyncBaseTransport):
    """Sends requests straight into the sandbox app, the way the network would answer.

    Injected dropped connections become ``httpx2.RemoteProtocolError`` and an answer
    slower than the request's read timeout becomes ``httpx2.ReadTimeout``, as over a socket.
    """

    def __init__(self, sandbox: VoipanoSandbox) -> None:
        self._asgi = httpx2.ASGITransport(app=sandbox)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer ``request`` from the sandbox, failing as a socket would."""
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            with anyio.fail_after(timeout):
                return await self._asgi.handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx2.RemoteProtocolError(
                "server disconnected without sending a complete response", request=request
            ) from exc
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("timed out waiting for the answer", request=request) from exc
