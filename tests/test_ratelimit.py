"""The rate limit through the client: one token bucket for every task and copy.

The bucket's own arithmetic, order and cancellation are in ``test_ratelimit_unit.py`` (on
fake and mock clocks); here the shared budget is counted on a loopback server, requests
per window.
"""

from __future__ import annotations

import json
import time

import anyio
import anyio.abc
import pytest

from voipano_async import AsyncVoipano, RetryPolicy, Voipano

from . import samples
from .conftest import TOKEN
from .loopback import head, serve

pytestmark = pytest.mark.anyio


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


@pytest.mark.sockets
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
        # Another account's copy (its own token) shares the client's limit too.
        copy = client.with_options(retry=RetryPolicy(max_retries=0), token=f"{TOKEN}-b")

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


@pytest.mark.sockets
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
