"""Click-to-call from an aiohttp app through one shared AsyncVoipano client.

The client is created when the app starts and closed when it stops, in a `cleanup_ctx`.
It sends through the app's own `aiohttp.ClientSession` (`DefaultAioHttpClient`), so the
SDK's calls share aiohttp's connection pool, at a fraction of httpx2's CPU per call.
`POST /call` takes `{"phone": "0912 345 6789"}`: the service rings our sales line
first, then connects it to the customer, and the app answers 202. The `voipano_errors`
middleware turns the SDK's errors into HTTP answers.

Run it against the local sandbox (no account needed), from this directory:

    pip install "voipano-async[cli,sandbox,aiohttp]"
    # (not on PyPI yet: from the repository's root,
    #  python -m pip install ".[cli,sandbox,aiohttp]")
    voipano sandbox                                  # in another terminal
    export VOIPANO_TOKEN=sandbox-token
    export VOIPANO_BASE_URL=http://127.0.0.1:8765/api/v1/webservice
    python aiohttp_app.py          # or: python -m aiohttp.web aiohttp_app:create_app
    curl -i localhost:8080/call -H 'content-type: application/json' \
        -d '{"phone": "0912 345 6789"}'

Against the real service, set only `VOIPANO_TOKEN` (and `SALES_LINE`, the number rung
first).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from voipano_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncVoipano,
    DefaultAioHttpClient,
    InsufficientCreditError,
    InvalidPhoneNumberError,
    RateLimitError,
    ServerError,
    VoipanoError,
)

logger = logging.getLogger(__name__)

SALES_LINE = os.environ.get("SALES_LINE", "02191010001")
RING_SECONDS = 30

VOIPANO = web.AppKey("voipano", AsyncVoipano)
# The app's one aiohttp session, for its own requests and the SDK's.
SESSION = web.AppKey("session", aiohttp.ClientSession)


def make_voipano(session: aiohttp.ClientSession) -> AsyncVoipano:
    """The app's one client, sending through the app's session. Tests pass another."""
    # VOIPANO_TOKEN (and VOIPANO_BASE_URL, if set) come from the environment.
    http = DefaultAioHttpClient(session=session)  # never closes the session
    return AsyncVoipano(max_concurrency=20, http_client=http)


def create_app(
    argv: list[str] | None = None,
    *,
    make_client: Callable[[aiohttp.ClientSession], AsyncVoipano] = make_voipano,
) -> web.Application:
    """The application.

    Args:
        argv: The command line's arguments that `python -m aiohttp.web` did not read
            itself, which it passes to the factory; this app takes none.
        make_client: Builds the app's client at start-up from the app's session; tests
            pass one that ignores it and returns `sandbox.client()`.
    """

    async def voipano_client(app: web.Application) -> AsyncIterator[None]:
        # Runs at start-up, up to the yield, and at cleanup, after it: the client is
        # closed first, then the session it sends through.
        async with aiohttp.ClientSession() as session, make_client(session) as client:
            app[SESSION] = session
            app[VOIPANO] = client
            yield

    app = web.Application(middlewares=[voipano_errors])
    app.cleanup_ctx.append(voipano_client)
    app.router.add_post("/call", click_to_call)
    return app


async def click_to_call(request: web.Request) -> web.Response:
    """Ring the sales line, then connect it to the customer's phone."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    phone = body.get("phone") if isinstance(body, dict) else None
    if not isinstance(phone, str):
        refusal = {"detail": 'expected JSON {"phone": "..."}'}
        return web.json_response(refusal, status=400)
    voipano = request.app[VOIPANO]
    call = await voipano.click_to_call(SALES_LINE, phone, timeout=RING_SECONDS)
    answer = {"request_id": call.request_id, "status": call.status}
    return web.json_response(answer, status=202)


@web.middleware
async def voipano_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn any SDK error raised by a handler into an HTTP answer."""
    try:
        return await handler(request)
    except VoipanoError as exc:
        return error_response(exc)


def error_response(exc: VoipanoError) -> web.Response:
    """The HTTP answer for an SDK error.

    Every body carries `may_have_been_placed`: when it is true the phones may be
    ringing already, and the front end must not offer to call again straight away.
    """
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidPhoneNumberError):
        # The user's input: nothing was sent.
        status, detail = 422, "not an Iranian phone number, e.g. 0912 345 6789"
    elif isinstance(exc, InsufficientCreditError):
        # Our account is out of credit, not the user's: 503, not 402 (Payment Required
        # would ask the caller to pay). Tell whoever tops the account up.
        logger.error("Voipano credit exhausted: %s", exc)
        status, detail = 503, "calls are unavailable right now"
    elif isinstance(exc, RateLimitError):
        # The SDK already waited and retried; what reaches us is a longer wait.
        status, detail = 429, "too many calls requested, try again later"
        headers["Retry-After"] = str(math.ceil(exc.retry_after or 1))
    elif isinstance(exc, APITimeoutError):
        status, detail = 504, "the call service did not answer in time"
    elif isinstance(exc, (APIConnectionError, ServerError)):
        status, detail = 502, "the call service failed"
    else:
        # A bad token, a refused request, an unreadable answer: ours to fix, not the
        # user's.
        logger.error("Voipano request failed: %r", exc)
        status, detail = 502, "the call service failed"
    if exc.may_have_been_placed:
        # Never place it again on our own: the phones may be ringing already.
        detail += "; the call may have been placed, so wait for it before trying again"
    return web.json_response(
        {"detail": detail, "may_have_been_placed": exc.may_have_been_placed},
        status=status,
        headers=headers,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    web.run_app(create_app(), port=8080)
