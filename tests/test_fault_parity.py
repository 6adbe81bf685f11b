"""Every fault means the same in process and over HTTP: the same requests acted on, the
same statuses recorded, the same outcome for the caller.

Each named fault (``FAULT_KINDS``) is scripted once on a free read, a charged call and a
recording download, against the sandbox in process and served by uvicorn on loopback.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from voipano_async import AsyncVoipano, RetryPolicy, VoipanoError
from voipano_async.testing import FAULT_KINDS, Fault, VoipanoSandbox

pytestmark = [pytest.mark.anyio, pytest.mark.sockets]

POLICY = RetryPolicy(initial=0.001, cap=0.002)
# Short enough for a test, and still past the client's read timeout and deadline.
SLOW = 0.6
OPTIONS: dict[str, Any] = {"timeout": 0.25, "deadline": 0.4, "retry": POLICY}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn serves on asyncio only


def fault(kind: str) -> Fault | None:
    if kind == "none":
        return None
    chosen = FAULT_KINDS[kind]
    if kind == "slow":
        return attrs.evolve(chosen, delay=SLOW)
    if kind == "drip":
        return attrs.evolve(chosen, drip_seconds=SLOW)
    return chosen


@attrs.frozen
class Outcome:
    """What a caller and the sandbox's books see of one call."""

    result: str  # "ok" (and what came back), or the error's type
    may_have_been_placed: bool | None
    attempts: int
    requests: tuple[tuple[str | None, int | None, bool], ...]  # fault, status, acted
    credit: int


Operation = Callable[[AsyncVoipano, VoipanoSandbox, Path], Awaitable[str]]


async def services(client: AsyncVoipano, sandbox: VoipanoSandbox, tmp: Path) -> str:
    return f"ok {(await client.services()).total} services"


async def call_otp(client: AsyncVoipano, sandbox: VoipanoSandbox, tmp: Path) -> str:
    return f"ok charged {(await client.call_otp('09123456789')).billing.charged}"


async def download(client: AsyncVoipano, sandbox: VoipanoSandbox, tmp: Path) -> str:
    path = await client.download_call_recording(recorded(sandbox), tmp)
    return "ok " + hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def recorded(sandbox: VoipanoSandbox) -> str:
    return str(next(r["id"] for r in sandbox.reports if r["has_recording"]))


OPERATIONS: dict[str, tuple[str, Operation]] = {
    "free read": ("/services", services),
    "charged call": ("/call-otp", call_otp),
    "download": ("/call-recordings/*", download),
}


@attrs.define
class Mode:
    name: str

    async def client(self, sandbox: VoipanoSandbox) -> AsyncIterator[AsyncVoipano]:
        if self.name == "in process":
            async with sandbox.client(**OPTIONS) as client:
                yield client
        else:
            async with (
                sandbox.serve() as url,
                AsyncVoipano(sandbox.token, base_url=url, **OPTIONS) as client,
            ):
                yield client


async def outcome(mode: str, kind: str, operation: str, tmp: Path) -> Outcome:
    sandbox = VoipanoSandbox(reports=20)
    path, run = OPERATIONS[operation]
    scripted = fault(kind)
    if scripted is not None:
        sandbox.faults.script(path, scripted)
    attempts: int
    async for client in Mode(mode).client(sandbox):
        try:
            result = await run(client, sandbox, tmp)
        except VoipanoError as error:
            result, placed, attempts = (
                type(error).__name__,
                error.may_have_been_placed,
                error.attempts,
            )
        else:
            placed, attempts = None, len(sandbox.requests)
    return Outcome(
        result,
        placed,
        attempts,
        tuple((r.fault, r.status, r.acted) for r in sandbox.requests),
        sandbox.credit,
    )


def expected(kind: str, operation: str) -> tuple[str, bool | None, int, int]:
    """What ``kind`` does to ``operation``: (result, may_have_been_placed, attempts, spent)."""
    if operation != "charged call":
        # Free: tried again, the file whole (the drip trickles JSON only; a download is
        # sent as is).
        return ("ok", None, 1 if (kind, operation) == ("drip", "download") else 2, 0)
    return {
        "429": ("ok charged 160", None, 2, 160),
        "drop": ("APIConnectionError", True, 1, 0),
        "drop-after": ("APIConnectionError", True, 1, 160),
        "slow": ("APITimeoutError", True, 1, 160),
        "drip": ("APITimeoutError", True, 1, 160),
        "truncated": ("UnexpectedResponseError", True, 1, 160),
    }.get(kind, ("ServerError", True, 1, 0))  # a 5xx or a proxy's page: not acted on


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("kind", list(FAULT_KINDS))
async def test_a_fault_means_the_same_in_process_and_over_http(
    kind: str, operation: str, tmp_path: Path
) -> None:
    inside = await outcome("in process", kind, operation, tmp_path / "in")
    served = await outcome("served", kind, operation, tmp_path / "served")

    assert inside == served
    result, placed, attempts, spent = expected(kind, operation)
    assert inside.result.startswith(result)
    assert (inside.may_have_been_placed, inside.attempts) == (placed, attempts)
    assert 10_000 - inside.credit == spent
    if operation == "download":
        # Every download that ended well saved the same bytes as one with no fault.
        clean = await outcome("in process", "none", operation, tmp_path / "clean")
        assert inside.result == clean.result


async def test_a_download_cut_off_asks_for_the_rest_in_both_modes(tmp_path: Path) -> None:
    for mode in ("in process", "served"):
        got = await outcome(mode, "truncated", "download", tmp_path / mode)
        # Half the file came with a 200; the rest, asked for with Range, with a 206.
        assert [status for _, status, _ in got.requests] == [200, 206]
