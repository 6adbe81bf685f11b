"""The rate limit: one token bucket for every task and copy, counted, not timed.

The bucket's arithmetic runs on a fake clock whose sleeps advance it, so the waits are
exact; the shared budget is counted on a loopback server, requests per window.
"""

from __future__ import annotations

import json
import time

import anyio
import anyio.abc
import pytest

from voipano_async import AsyncVoipano, RetryPolicy, Voipano
from voipano_async._ratelimit import RateLimiter

from . import samples
from .conftest import TOKEN
from .loopback import head, serve

pytestmark = pytest.mark.anyio


class FakeClock:
    """Time that moves only when a waiter sleeps; records every wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 9))
        self.now += seconds
        await anyio.lowlevel.checkpoint()


def limiter(rate: float) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, clock=clock, sleep=clock.sleep), clock


async def test_a_burst_up_to_the_rate_goes_at_once_then_one_per_interval() -> None:
    bucket, clock = limiter(10)

    for _ in range(13):
        await bucket.acquire()

    assert clock.waits == [0.1, 0.1, 0.1]
    assert clock.now == pytest.approx(0.3)


async def test_a_rate_under_one_a_second_allows_one_at_a_time() -> None:
    bucket, clock = limiter(0.5)

    await bucket.acquire()
    await bucket.acquire()

    assert clock.waits == [2.0]


async def test_a_quiet_spell_refills_the_bucket_but_no_further() -> None:
    bucket, clock = limiter(4)
    for _ in range(4):
        await bucket.acquire()

    clock.now += 100  # a long quiet spell refills only up to the capacity
    for _ in range(5):
        await bucket.acquire()

    assert clock.waits == [0.25]


async def test_waiters_are_served_in_the_order_they_asked() -> None:
    bucket, _ = limiter(1)
    await bucket.acquire()
    served: list[int] = []

    async def take(n: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        await bucket.acquire()
        served.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(20):
            await tg.start(take, n)

    assert served == list(range(20))


async def test_a_cancelled_waiter_takes_no_token() -> None:
    bucket, clock = limiter(1)
    await bucket.acquire()

    with anyio.CancelScope() as scope:
        scope.cancel()
        await bucket.acquire()  # cancelled in line
    await bucket.acquire()

    assert clock.waits == [1.0]  # the next one waited one interval, not two


@pytest.mark.parametrize(
    ("rate", "error"),
    [(0, ValueError), (-1, ValueError), (float("inf"), ValueError), (True, TypeError)],
)
def test_a_rate_that_is_not_positive_is_refused_before_anything_is_made(
    rate: float, error: type[Exception]
) -> None:
    with pytest.raises(error, match="rate_limit"):
        AsyncVoipano(TOKEN, rate_limit=rate)
    with pytest.raises(error, match="rate_limit"):
        Voipano(TOKEN, rate_limit=rate)


async def test_every_task_and_every_copy_share_one_budget() -> None:
    arrived: list[float] = []
    body = json.dumps(samples.SERVICES).encode()

    async def answer(request: str, stream: anyio.abc.SocketStream) -> None:
        arrived.append(time.monotonic())
        await stream.send(head(200, {"Content-Type": "application/json"}, length=len(body)))
        await stream.send(body)

    rate = 20
    async with (
        serve(answer) as (url, _),
        AsyncVoipano(TOKEN, base_url=f"{url}/api", rate_limit=rate) as client,
    ):
        copy = client.with_options(retry=RetryPolicy(max_retries=0))

        async def worker(target: AsyncVoipano) -> None:
            for _ in range(6):
                await target.services()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for n in range(10):
                    tg.start_soon(worker, client if n % 2 else copy)

    assert len(arrived) == 60
    # A token bucket of capacity `rate` lets at most rate + rate * T requests through in
    # any window of T seconds. A slow machine only lowers the counts.
    for window in (0.25, 0.5, 1.0):
        most = max(sum(1 for t in arrived if start <= t < start + window) for start in arrived)
        assert most <= rate + rate * window + 1, (window, most)


async def test_retries_spend_the_budget_too() -> None:
    arrived: list[float] = []

    async def busy(request: str, stream: anyio.abc.SocketStream) -> None:
        arrived.append(time.monotonic())
        await stream.send(head(503, length=0))

    fast = RetryPolicy(max_retries=3, initial=0.0, cap=0.0, jitter=0)
    async with (
        serve(busy) as (url, _),
        AsyncVoipano(TOKEN, base_url=f"{url}/api", rate_limit=2, retry=fast) as client,
    ):
        with anyio.fail_after(30), pytest.raises(Exception, match="503"):
            await client.services()

    assert len(arrived) == 4
    # Two tokens at once, then one every half second: no window of 0.4 s saw more than
    # the two of the burst, although the policy itself waits nothing between attempts.
    most = max(sum(1 for t in arrived if start <= t < start + 0.4) for start in arrived)
    assert most <= 2
