"""The token bucket on its own: exact waits on a fake clock, then requests counted per window.

No test asserts on wall-clock durations. The waits are read from a fake clock that only
moves when the bucket sleeps (or from trio's virtual clock); the loopback test counts the
requests that reached a server in each one-second window.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal

import anyio
import anyio.abc
import httpx2
import pytest
import trio
import trio.testing

from voipano_async._ratelimit import RateLimiter

from .loopback import head, serve


class FakeClock:
    """Time that moves only when a waiter sleeps; records every wait.

    With ``frozen``, sleeping moves nothing (a clock coarser than the wait). With ``gate``,
    a sleeper parks until the gate is set, so a test can cancel it mid-sleep.
    """

    def __init__(self, *, frozen: bool = False) -> None:
        self.now = 0.0
        self.frozen = frozen
        self.waits: list[float] = []
        self.gate: anyio.Event | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) > 1000:
            raise AssertionError("the bucket keeps sleeping: it spins")
        if self.gate is not None:
            await self.gate.wait()
        await anyio.lowlevel.checkpoint()
        if not self.frozen:
            self.now += seconds


def bucket(rate: float, *, frozen: bool = False) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(frozen=frozen)
    return RateLimiter(rate, clock=clock, sleep=clock.sleep), clock


# --- arithmetic --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rate_ten_lets_ten_through_at_once_then_one_every_tenth_of_a_second() -> None:
    limiter, clock = bucket(10)
    started: list[float] = []

    for _ in range(15):
        await limiter.acquire()
        started.append(clock.now)

    assert started[:10] == [0.0] * 10
    assert started[10:] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert clock.waits == pytest.approx([0.1] * 5)


@pytest.mark.anyio
async def test_a_rate_under_one_holds_one_token_and_waits_the_whole_interval() -> None:
    limiter, clock = bucket(0.5)
    assert limiter.capacity == 1.0

    await limiter.acquire()
    await limiter.acquire()
    await limiter.acquire()

    assert clock.waits == pytest.approx([2.0, 2.0])


@pytest.mark.anyio
async def test_a_fractional_rate_bursts_the_whole_tokens_then_waits_for_the_rest() -> None:
    limiter, clock = bucket(2.5)

    for _ in range(4):
        await limiter.acquire()

    # 2.5 tokens: two at once; the third waits for the missing half token (0.2 s), the
    # fourth for a whole one (0.4 s).
    assert clock.waits == pytest.approx([0.2, 0.4])


@pytest.mark.anyio
async def test_a_quiet_spell_refills_up_to_the_capacity_and_no_further() -> None:
    limiter, clock = bucket(4)
    for _ in range(4):
        await limiter.acquire()

    clock.now += 0.5  # two tokens back
    for _ in range(3):
        await limiter.acquire()
    assert clock.waits == pytest.approx([0.25])

    clock.now += 3600
    for _ in range(5):
        await limiter.acquire()
    assert clock.waits == pytest.approx([0.25, 0.25])


@pytest.mark.anyio
@pytest.mark.parametrize("rate", [3, 7, 10, 13.7, 29, 1000])
async def test_a_clock_that_does_not_move_costs_at_most_one_sleep_per_token(rate: float) -> None:
    # A clock coarser than the wait (or trio's MockClock, where now + 1e-17 == now) must
    # not turn float dust into an endless run of ever tinier sleeps.
    limiter, clock = bucket(rate, frozen=True)
    clock.now = 187654.321  # trio's own clock starts this far along

    for _ in range(int(limiter.capacity) + 20):
        await limiter.acquire()

    assert len(clock.waits) <= 20


@pytest.mark.anyio
async def test_a_clock_that_went_back_costs_one_interval_not_hours() -> None:
    limiter, clock = bucket(2)
    clock.now = 200_000.0
    for _ in range(3):
        await limiter.acquire()

    clock.now = 10.0  # another event loop's clock, say
    await limiter.acquire()

    assert clock.waits == pytest.approx([0.5, 0.5])


# --- the line ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_waiters_are_served_one_by_one_in_the_order_they_asked() -> None:
    limiter, clock = bucket(10)
    served: list[tuple[int, float]] = []

    async def take(n: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        await limiter.acquire()
        served.append((n, clock.now))

    async with anyio.create_task_group() as tg:
        for n in range(100):
            await tg.start(take, n)

    assert [n for n, _ in served] == list(range(100))
    times = [at for _, at in served]
    assert times[:10] == [0.0] * 10
    assert times[10:] == pytest.approx([0.1 * k for k in range(1, 91)])


@pytest.mark.anyio
async def test_twenty_queued_waiters_keep_their_order() -> None:
    limiter, _ = bucket(1)
    await limiter.acquire()
    served: list[int] = []

    async def take(n: int, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        await limiter.acquire()
        served.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(20):
            await tg.start(take, n)

    assert served == list(range(20))


@pytest.mark.anyio
async def test_a_waiter_cancelled_mid_sleep_leaves_the_token_to_the_next() -> None:
    limiter, clock = bucket(1)
    await limiter.acquire()  # the bucket is empty; the next token is due at 1.0
    clock.gate = anyio.Event()
    served: list[str] = []
    first = anyio.CancelScope()

    async def take(name: str, scope: anyio.CancelScope | None) -> None:
        with scope or anyio.CancelScope():
            await limiter.acquire()
            served.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(take, "first", first)
        await anyio.wait_all_tasks_blocked()
        assert clock.waits == [1.0]  # the first is at the head, asleep
        tg.start_soon(take, "second", None)
        await anyio.wait_all_tasks_blocked()
        assert clock.waits == [1.0]  # the second queues behind it, not asleep

        first.cancel()
        await anyio.wait_all_tasks_blocked()
        assert clock.waits == [1.0, 1.0]  # the second is at the head now, same token
        clock.gate.set()

    assert served == ["second"]
    assert clock.now == 1.0
    clock.gate = None
    await limiter.acquire()
    assert clock.waits == [1.0, 1.0, 1.0]  # the second took one token; none leaked


@pytest.mark.anyio
async def test_a_waiter_cancelled_in_line_takes_no_token() -> None:
    limiter, clock = bucket(1)
    await limiter.acquire()

    with anyio.CancelScope() as scope:
        scope.cancel()
        await limiter.acquire()
    await limiter.acquire()

    assert clock.waits == [1.0]


# --- wiring ------------------------------------------------------------------------------


def test_making_one_needs_no_event_loop() -> None:
    limiter = RateLimiter(3)
    assert (limiter.rate, limiter.capacity) == (3.0, 3.0)
    assert isinstance(limiter.rate, float)


def test_on_trio_virtual_time_the_defaults_wait_exactly_and_do_not_spin() -> None:
    sleeps: list[float] = []

    async def counted_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert len(sleeps) < 100, "the bucket keeps sleeping: it spins"
        await anyio.sleep(seconds)

    async def main() -> float:
        limiter = RateLimiter(10, sleep=counted_sleep)  # the event loop's clock
        start = trio.current_time()
        for _ in range(25):
            await limiter.acquire()
        return trio.current_time() - start

    clock = trio.testing.MockClock(autojump_threshold=0)
    clock.jump(54321.0)
    assert trio.run(main, clock=clock) == pytest.approx(1.5)
    assert len(sleeps) <= 15


@pytest.mark.anyio
async def test_the_defaults_run_on_the_event_loop() -> None:
    limiter = RateLimiter(500)  # made before the loop's first use of it, like the client's
    with anyio.fail_after(30):
        for _ in range(510):
            await limiter.acquire()


@pytest.mark.parametrize("rate", [0, -1, 0.0, -0.5, math.inf, -math.inf, math.nan])
def test_a_rate_that_is_not_positive_and_finite_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="more than 0 requests per second"):
        RateLimiter(rate)


@pytest.mark.parametrize("rate", [True, False, "10", None, Decimal("10"), 1j])
def test_a_rate_that_is_not_a_number_is_refused(rate: object) -> None:
    with pytest.raises(TypeError, match="number of requests per second"):
        RateLimiter(rate)  # type: ignore[arg-type]


# --- on the wire -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_thirty_tasks_never_put_more_than_the_rate_plus_a_burst_in_one_second() -> None:
    arrived: list[float] = []

    async def answer(request: str, stream: anyio.abc.SocketStream) -> None:
        arrived.append(time.monotonic())
        await stream.send(head(204, length=0))

    rate = 10
    limiter = RateLimiter(rate)

    async with serve(answer) as (url, _), httpx2.AsyncClient() as http:

        async def call() -> None:
            await limiter.acquire()
            response = await http.get(f"{url}/ping")
            assert response.status_code == 204

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(30):
                    tg.start_soon(call)

    assert len(arrived) == 30
    # A bucket of capacity `rate` lets through at most capacity + rate * 1 s in any one
    # second; a slow machine only spreads the arrivals further. Without the bucket all 30
    # arrive within milliseconds.
    most = max(sum(1 for t in arrived if start <= t < start + 1.0) for start in arrived)
    assert most <= rate + limiter.capacity, most
