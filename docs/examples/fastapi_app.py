"""Send login codes from a FastAPI app through one shared AsyncVoipano client.

The app's lifespan creates one client at start-up with `make_voipano()`, keeps it on
`app.state` and closes it at shutdown. The `get_voipano` dependency gives it to each
request. `POST /otp` takes `{"phone": "0912 345 6789"}`, places a voice OTP call and
answers 202. `GET /services` answers with the account's services, the SDK's result as
JSON. `voipano_error_handler` turns the SDK's errors into HTTP answers.

Run it against the local sandbox (no account needed), from this directory:

    pip install "voipano-async[cli,sandbox]" fastapi uvicorn
    # (not on PyPI yet: from the repository's root,
    #  python -m pip install ".[cli,sandbox]" fastapi uvicorn)
    voipano sandbox                                  # in another terminal
    export VOIPANO_TOKEN=sandbox-token
    export VOIPANO_BASE_URL=http://127.0.0.1:8765/api/v1/webservice
    uvicorn fastapi_app:app --port 8000
    curl -i localhost:8000/otp -H 'content-type: application/json' \
        -d '{"phone": "0912 345 6789"}'

Against the real service, set only `VOIPANO_TOKEN`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from voipano_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncVoipano,
    InsufficientCreditError,
    InvalidPhoneNumberError,
    RateLimitError,
    ServerError,
    VoipanoError,
)

logger = logging.getLogger(__name__)


def make_voipano() -> AsyncVoipano:
    """The app's one client, configured here. Tests replace this function."""
    # VOIPANO_TOKEN (and VOIPANO_BASE_URL, if set) come from the environment.
    return AsyncVoipano(max_concurrency=20)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with make_voipano() as client:
        app.state.voipano = client
        yield


app = FastAPI(title="Login codes", lifespan=lifespan)


async def get_voipano(request: Request) -> AsyncVoipano:
    """The app's one client.

    An `async def`: FastAPI would run a plain `def` dependency in a worker thread.
    """
    client: AsyncVoipano = request.app.state.voipano
    return client


VoipanoDep = Annotated[AsyncVoipano, Depends(get_voipano)]


class OtpRequest(BaseModel):
    phone: str


class OtpSent(BaseModel):
    """What the user is told: not the whole result, whose `billing` is our credit."""

    request_id: str | None
    phone: str | None  # masked by the service, e.g. "09123***789"


@app.post("/otp", status_code=202)
async def send_otp(body: OtpRequest, voipano: VoipanoDep) -> OtpSent:
    """Call the user's phone and read out a login code."""
    otp = await voipano.call_otp(body.phone, purpose="login")
    return OtpSent(request_id=otp.request_id, phone=otp.phone_number)


@app.get("/services")
async def list_services(voipano: VoipanoDep) -> dict[str, Any]:
    """The account's services, for an operators' page (keep it behind your own auth)."""
    services = await voipano.services()
    # FastAPI cannot serialise an attrs result: to_dict() gives plain JSON types.
    return services.to_dict()


@app.exception_handler(VoipanoError)
async def voipano_error_handler(request: Request, exc: VoipanoError) -> JSONResponse:
    """Turn any SDK error raised by a route into an HTTP answer."""
    return error_response(exc)


def error_response(exc: VoipanoError) -> JSONResponse:
    """The HTTP answer for an SDK error.

    Every body carries `may_have_been_placed`, so that the front end can tell the user
    to wait for the call instead of asking for another code.
    """
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidPhoneNumberError):
        # The user's input: nothing was sent.
        status, detail = 422, "not an Iranian phone number, e.g. 0912 345 6789"
    elif isinstance(exc, InsufficientCreditError):
        # Our account is out of credit, not the user's: 503, not 402 (Payment Required
        # would ask the caller to pay). Tell whoever tops the account up.
        logger.error("Voipano credit exhausted: %s", exc)
        status, detail = 503, "login codes are unavailable right now"
    elif isinstance(exc, RateLimitError):
        # The SDK already waited and retried; what reaches us is a longer wait.
        status, detail = 429, "too many login codes requested, try again later"
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
        # Never place it again on our own: the phone may be ringing already.
        detail += "; the call may have been placed, so wait for it before asking again"
    content = {"detail": detail, "may_have_been_placed": exc.may_have_been_placed}
    return JSONResponse(content, status_code=status, headers=headers)
