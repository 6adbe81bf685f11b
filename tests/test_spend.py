"""The spend guard: a runaway loop cannot drain the account."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from voipano_async import (
    APIConnectionError,
    AsyncVoipano,
    InsufficientCreditError,
    SpendLimitExceededError,
    VoipanoError,
)
from voipano_async.testing import Fault, VoipanoSandbox

pytestmark = pytest.mark.anyio


async def test_spend_limit_stops_a_runaway_loop_before_sending() -> None:
    sandbox = VoipanoSandbox()
    client = sandbox.client(spend_limit=560)
    sent = 0

    async def runaway() -> None:
        nonlocal sent
        while True:  # a bot's bug: an endless loop of OTPs
            await client.call_otp("09123456789")
            sent += 1

    with pytest.raises(SpendLimitExceededError) as info:
        await runaway()

    assert sent == 3  # 3 x 160 = 480; a fourth would make 640
    assert client.spent == 480
    assert len(sandbox.requests) == 3  # the refused call was never sent
    assert sandbox.credit == 10_000 - 480
    assert (info.value.price, info.value.spent, info.value.limit) == (160, 480, 560)
    assert "spend_limit" in str(info.value)
    assert isinstance(info.value, VoipanoError)
    # A cheaper call still fits.
    await client.click_to_call("09123456789", "09129876543")
    assert client.spent == 560


async def test_the_price_follows_the_servers_unit_price() -> None:
    sandbox = VoipanoSandbox()
    sandbox.prices["/secure-call"] = 200
    client = sandbox.client(spend_limit=350)
    await client.secure_call("09123456789", "09129876543")  # reserved 120, charged 200
    assert client.spent == 200
    with pytest.raises(SpendLimitExceededError) as info:
        await client.secure_call("09123456789", "09129876543")
    assert info.value.price == 200


async def test_concurrent_tasks_cannot_overspend() -> None:
    sandbox = VoipanoSandbox()
    sandbox.latency = 0.01
    client = sandbox.client(spend_limit=1000)
    outcomes: list[str] = []

    async def otp() -> None:
        try:
            await client.call_otp("09123456789")
            outcomes.append("sent")
        except SpendLimitExceededError:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(otp)

    assert outcomes.count("sent") == 6  # 6 x 160 = 960
    assert client.spent == 960
    assert len(sandbox.requests) == 6


async def test_a_call_that_provably_did_not_happen_is_released() -> None:
    sandbox = VoipanoSandbox(credit=100)
    client = sandbox.client(spend_limit=200)
    with pytest.raises(InsufficientCreditError):
        await client.call_otp("09123456789")
    assert client.spent == 0
    sandbox.credit = 10_000
    await client.call_otp("09123456789")
    assert client.spent == 160


async def test_a_call_that_may_have_happened_stays_counted() -> None:
    sandbox = VoipanoSandbox()
    sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))
    client = sandbox.client(spend_limit=300)
    with pytest.raises(APIConnectionError):
        await client.call_otp("09123456789")
    assert client.spent == 160
    with pytest.raises(SpendLimitExceededError):
        await client.call_otp("09123456789")


async def test_min_credit_floor() -> None:
    sandbox = VoipanoSandbox(credit=1000)
    client = sandbox.client(min_credit=600)
    await client.call_otp("09123456789")  # 840 left
    await client.call_otp("09123456789")  # 680 left
    await client.call_otp("09123456789")  # 520 left: now below the floor
    with pytest.raises(SpendLimitExceededError, match="min_credit"):
        await client.click_to_call("09123456789", "09129876543")
    assert sandbox.credit == 520
    assert len(sandbox.requests) == 3


async def test_copies_share_the_budget() -> None:
    sandbox = VoipanoSandbox()
    client = sandbox.client(spend_limit=300)
    patient = client.with_options(max_retries=5)
    await client.call_otp("09123456789")
    with pytest.raises(SpendLimitExceededError):
        await patient.call_otp("09123456789")
    assert patient.spent == client.spent == 160


async def test_reads_are_never_limited() -> None:
    sandbox = VoipanoSandbox()
    client = sandbox.client(spend_limit=0)
    assert (await client.services()).total == 2
    with pytest.raises(SpendLimitExceededError):
        await client.call_otp("09123456789")


@pytest.mark.parametrize("kwargs", [{"spend_limit": -1}, {"min_credit": True}])
def test_bad_limits(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="credit units"):
        AsyncVoipano("token-0123456789", **kwargs)  # type: ignore[arg-type]


def test_the_blocking_client_has_the_guard_too() -> None:
    sandbox = VoipanoSandbox()
    with sandbox.sync_client(spend_limit=200) as client:
        client.call_otp("09123456789")
        with pytest.raises(SpendLimitExceededError):
            client.call_otp("09123456789")
        assert client.spent == 160


# -- cancelled calls: released when provably never sent, counted otherwise --------------


class _Noticed(list[Any]):
    """A sandbox's request log that tells when a request arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = anyio.Event()

    def append(self, item: Any) -> None:
        super().append(item)
        self.arrived.set()


def _noticing(sandbox: VoipanoSandbox) -> anyio.Event:
    """An event set when the sandbox receives its next request."""
    log = _Noticed()
    sandbox.requests = log
    return log.arrived


async def _cancelled(client: AsyncVoipano, seconds: float = 0.05) -> None:
    """Start a charged call and cancel it after ``seconds``; the cancellation propagates."""
    with anyio.move_on_after(seconds) as scope:
        await client.call_otp("09123456789")
    assert scope.cancelled_caught


async def test_a_call_cancelled_in_the_queue_for_a_slot_is_released() -> None:
    sandbox = VoipanoSandbox()
    sandbox.latency = 60  # the first call holds the one slot until it is cancelled
    client = sandbox.client(spend_limit=160 * 3, max_concurrency=1)
    holder = anyio.CancelScope()
    sent = _noticing(sandbox)

    async def hold() -> None:
        with holder:
            await client.call_otp("09123456789")

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold)
        with anyio.fail_after(10):
            await sent.wait()  # and waiting for its answer
        for _ in range(20):  # each queued behind it, then cancelled: never sent
            await _cancelled(client, 0.01)
        assert len(sandbox.requests) == 1
        holder.cancel()
    # The first call was sent before it was cancelled: it may have been placed.
    assert client.spent == 160
    # The budget is whole but for it: two more calls fit.
    sandbox.latency = 0
    await client.call_otp("09123456789")
    await client.call_otp("09123456789")
    assert client.spent == 480


async def test_a_call_cancelled_waiting_for_a_rate_limit_token_is_released() -> None:
    sandbox = VoipanoSandbox()
    client = sandbox.client(spend_limit=320, rate_limit=0.5)
    await client.call_otp("09123456789")  # the one token of the bucket
    for _ in range(5):
        await _cancelled(client)  # each waits ~2 s for a token, and is cancelled
    assert client.spent == 160
    assert len(sandbox.requests) == 1


async def test_a_call_cancelled_in_the_backoff_after_a_429_is_released() -> None:
    sandbox = VoipanoSandbox()
    sandbox.faults.script("/call-otp", Fault.rate_limited(retry_after=30))
    client = sandbox.client(spend_limit=160)
    await _cancelled(client, 1.0)  # refused with 429, then cancelled waiting to retry
    assert client.spent == 0
    assert sandbox.credit == 10_000
    await client.call_otp("09123456789")  # the whole budget is still there
    assert client.spent == 160


async def test_a_call_cancelled_in_an_already_cancelled_scope_is_released() -> None:
    sandbox = VoipanoSandbox()
    client = sandbox.client(spend_limit=160)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await client.call_otp("09123456789")
    assert client.spent == 0
    assert sandbox.requests == []


async def test_a_call_cancelled_while_being_sent_stays_counted() -> None:
    sandbox = VoipanoSandbox()
    sandbox.latency = 60
    client = sandbox.client(spend_limit=300)
    sent = _noticing(sandbox)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.call_otp, "09123456789")
            with anyio.fail_after(10):
                await sent.wait()  # on the wire: it may have been placed
            scope.cancel()
    assert scope.cancelled_caught
    assert client.spent == 160
    with pytest.raises(SpendLimitExceededError):
        await client.call_otp("09123456789")
