"""The retry policy, counted request by request: reads retry, charged calls never twice."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import attrs
import httpx2
import pytest
import respx

from voipano_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncVoipano,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    VoipanoError,
)
from voipano_async._retry import Failure

from . import samples
from .conftest import FAST

pytestmark = pytest.mark.anyio

OK_SERVICES = httpx2.Response(200, json=samples.SERVICES)
CHARGED = [
    ("call_otp", "/call-otp", ("09123456789",), samples.CALL_OTP),
    ("click_to_call", "/click-to-call", ("09123456789", "02191010001"), samples.CLICK_TO_CALL),
    ("secure_call", "/secure-call", ("09123456789", "09129876543"), samples.SECURE_CALL),
]


def fail(kind: str) -> Any:
    """A failure as the transport would see it."""
    return {
        "connect-error": httpx2.ConnectError("connection refused"),
        "connect-timeout": httpx2.ConnectTimeout("timed out connecting"),
        "pool-timeout": httpx2.PoolTimeout("no free connection"),
        "read-timeout": httpx2.ReadTimeout("timed out reading"),
        "write-timeout": httpx2.WriteTimeout("timed out writing"),
        "read-error": httpx2.ReadError("connection reset by peer"),
        "dropped": httpx2.RemoteProtocolError("server disconnected without a response"),
    }.get(kind) or httpx2.Response(int(kind), json={"ok": False, "message": "نشد"})


# -- reads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        "connect-error",
        "connect-timeout",
        "pool-timeout",
        "read-timeout",
        "write-timeout",
        "read-error",
        "dropped",
        "408",
        "429",
        "500",
        "502",
        "503",
        "504",
    ],
)
async def test_reads_are_retried(
    api: respx.MockRouter, client: AsyncVoipano, failure: str
) -> None:
    route = api.get("/services").mock(side_effect=[fail(failure), OK_SERVICES])

    services = await client.services()

    assert services.total == 1
    assert route.call_count == 2


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 501])
async def test_reads_are_not_retried_on_client_errors(
    api: respx.MockRouter, client: AsyncVoipano, status: int
) -> None:
    route = api.get("/services").mock(side_effect=[fail(str(status)), OK_SERVICES])
    with pytest.raises(APIError) as info:
        await client.services()
    assert info.value.status_code == status
    assert route.call_count == 1


async def test_services_after_503_with_retry_after_zero_is_sent_twice(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/services").mock(
        side_effect=[httpx2.Response(503, headers={"Retry-After": "0"}), OK_SERVICES]
    )
    assert (await client.services()).total == 1
    assert route.call_count == 2


async def test_retries_stop_after_max_retries(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/services").respond(503, json={"message": "down"})
    with pytest.raises(ServerError):
        await client.services()
    assert route.call_count == 3


@pytest.mark.parametrize("max_retries", [0, 1, 4])
async def test_max_retries_is_honoured(api: respx.MockRouter, max_retries: int) -> None:
    route = api.get("/services").mock(side_effect=httpx2.ConnectError("refused"))
    client = AsyncVoipano("token-0123456789", retry=attrs.evolve(FAST, max_retries=max_retries))
    with pytest.raises(APIConnectionError):
        await client.services()
    assert route.call_count == max_retries + 1


async def test_downloads_are_retried_until_the_body_starts(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/call-recordings/abc").mock(
        side_effect=[
            httpx2.ReadTimeout("slow"),
            httpx2.Response(502),
            httpx2.Response(200, content=b"RIFF"),
        ]
    )
    async with client.stream_call_recording("abc") as audio:
        assert await audio.read() == b"RIFF"
    assert route.call_count == 3


async def test_with_options_changes_retries_for_the_new_client_only(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/services").mock(side_effect=httpx2.ConnectError("refused"))
    with pytest.raises(APIConnectionError):
        await client.with_options(max_retries=0).services()
    assert route.call_count == 1
    with pytest.raises(APIConnectionError):
        await client.services()
    assert route.call_count == 4


# -- charged calls ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "args", "answer"), CHARGED)
@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_charged_calls_are_sent_once_after_server_errors(
    api: respx.MockRouter,
    client: AsyncVoipano,
    method: str,
    path: str,
    args: tuple[str, ...],
    answer: dict[str, Any],
    status: int,
) -> None:
    route = api.post(path).mock(side_effect=[fail(str(status)), httpx2.Response(200, json=answer)])

    with pytest.raises(APIError) as info:
        await getattr(client, method)(*args)

    assert route.call_count == 1
    assert info.value.status_code == status
    if status >= 500:
        assert info.value.may_have_been_placed is True
        assert "may have been placed" in str(info.value)


@pytest.mark.parametrize(("method", "path", "args", "answer"), CHARGED)
@pytest.mark.parametrize("failure", ["read-timeout", "write-timeout", "read-error", "dropped"])
async def test_charged_calls_are_sent_once_when_the_request_may_have_arrived(
    api: respx.MockRouter,
    client: AsyncVoipano,
    method: str,
    path: str,
    args: tuple[str, ...],
    answer: dict[str, Any],
    failure: str,
) -> None:
    route = api.post(path).mock(side_effect=[fail(failure), httpx2.Response(200, json=answer)])

    with pytest.raises(APIConnectionError) as info:
        await getattr(client, method)(*args)

    assert route.call_count == 1
    assert info.value.may_have_been_placed is True
    assert "may have been placed" in str(info.value)


async def test_read_timeout_on_secure_call_is_sent_once(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.post("/secure-call").mock(side_effect=httpx2.ReadTimeout("timed out"))
    with pytest.raises(APITimeoutError) as info:
        await client.secure_call("09123456789", "09129876543")
    assert route.call_count == 1
    assert info.value.may_have_been_placed is True


@pytest.mark.parametrize(("method", "path", "args", "answer"), CHARGED)
@pytest.mark.parametrize("failure", ["connect-error", "connect-timeout", "pool-timeout", "429"])
async def test_charged_calls_are_resent_when_the_server_provably_did_not_act(
    api: respx.MockRouter,
    client: AsyncVoipano,
    method: str,
    path: str,
    args: tuple[str, ...],
    answer: dict[str, Any],
    failure: str,
) -> None:
    route = api.post(path).mock(side_effect=[fail(failure), httpx2.Response(200, json=answer)])

    result = await getattr(client, method)(*args)

    assert result.billing.charged == answer["billing"]["charged"]
    assert route.call_count == 2


async def test_429_on_click_to_call_is_resent(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.post("/click-to-call").mock(
        side_effect=[
            httpx2.Response(429, headers={"Retry-After": "0"}),
            httpx2.Response(200, json=samples.CLICK_TO_CALL),
        ]
    )
    call = await client.click_to_call("09123456789", "02191010001")
    assert call.status == "accepted"
    assert route.call_count == 2


async def test_connection_never_made_is_not_flagged_as_placed(
    api: respx.MockRouter,
) -> None:
    route = api.post("/call-otp").mock(side_effect=httpx2.ConnectError("refused"))
    client = AsyncVoipano("token-0123456789", retry=attrs.evolve(FAST, max_retries=1))
    with pytest.raises(APIConnectionError) as info:
        await client.call_otp("09123456789")
    assert route.call_count == 2
    assert info.value.may_have_been_placed is False
    assert "may have been placed" not in str(info.value)


# -- Retry-After and backoff ----------------------------------------------------------------


async def test_retry_after_beyond_the_cap_raises_instead_of_sleeping(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/services").mock(
        side_effect=[httpx2.Response(429, headers={"Retry-After": "3600"}), OK_SERVICES]
    )
    with pytest.raises(RateLimitError) as info:
        await client.services()
    assert info.value.retry_after == 3600
    assert route.call_count == 1


async def test_retry_after_as_http_date(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/services").mock(
        side_effect=[
            httpx2.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
            OK_SERVICES,
        ]
    )
    assert (await client.services()).total == 1
    assert route.call_count == 2


async def test_cancellation_during_backoff_propagates_at_once(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    first_answer = anyio.Event()

    def answer(request: httpx2.Request) -> httpx2.Response:
        first_answer.set()
        # Within the cap, so the client sleeps 30 s before trying again.
        return httpx2.Response(503, headers={"Retry-After": "30"})

    route = api.get("/services").mock(side_effect=answer)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.services)
            await first_answer.wait()
            await anyio.sleep(0.01)
            tg.cancel_scope.cancel()

    assert route.call_count == 1
    # The client is unharmed.
    api.get("/services").mock(return_value=OK_SERVICES)
    assert (await client.services()).total == 1


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(initial=0.5, cap=8.0)
    for attempt, nominal in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(0.75 * nominal <= d <= nominal for d in delays)
        assert len(delays) > 1  # jittered


# -- the policy's one decision, without HTTP --------------------------------------------------


def _failure(
    *, maybe_sent: bool, retryable: bool = True, retry_after: float | None = None
) -> Failure:
    return Failure(
        VoipanoError("x"),
        reason="r",
        maybe_sent=maybe_sent,
        retryable=retryable,
        retry_after=retry_after,
    )


@pytest.mark.parametrize(
    ("charged", "maybe_sent", "retryable", "retry_after", "attempt", "waits"),
    [
        (False, True, True, None, 1, True),  # a read timeout on a free call: again
        (True, True, True, None, 1, False),  # ... on a charged call: never
        (True, False, True, None, 1, True),  # a connect error: nothing was sent
        (False, False, False, None, 1, False),  # permanent
        (False, True, True, None, 3, False),  # past max_retries (2)
        (True, False, True, 5.0, 1, True),  # 429 with Retry-After within the cap
        (False, True, True, 61.0, 1, False),  # Retry-After over the cap
    ],
)
def test_the_policy_decides_without_http(
    charged: bool,
    maybe_sent: bool,
    retryable: bool,
    retry_after: float | None,
    attempt: int,
    waits: bool,
) -> None:
    policy = RetryPolicy(max_retries=2, initial=0.5, cap=8.0, max_retry_after=60.0)
    failure = _failure(maybe_sent=maybe_sent, retryable=retryable, retry_after=retry_after)
    wait = policy.decide(attempt, charged=charged, failure=failure)
    assert (wait is not None) == waits
    if waits and retry_after is not None:
        assert wait == retry_after


def test_no_setting_makes_a_charged_call_repeat_after_it_may_have_been_sent() -> None:
    eager = RetryPolicy(max_retries=100, initial=0.0, cap=0.0, max_retry_after=10**9)
    failure = _failure(maybe_sent=True)
    assert all(eager.decide(n, charged=True, failure=failure) is None for n in range(1, 101))


async def test_retries_are_logged_at_debug(
    api: respx.MockRouter, client: AsyncVoipano, caplog: pytest.LogCaptureFixture
) -> None:
    api.get("/services").mock(side_effect=[httpx2.Response(503), OK_SERVICES])
    with caplog.at_level(logging.DEBUG, logger="voipano_async"):
        await client.services()
    messages = [r.getMessage() for r in caplog.records if r.name == "voipano_async"]
    assert messages[0].startswith("GET /services -> 503")
    assert "attempt 1" in messages[0]
    assert messages[1].startswith("retrying GET /services after HTTP 503 in ")
    assert messages[2].startswith("GET /services -> 200")
    assert "attempt 2" in messages[2]
    levels = [r.levelno for r in caplog.records if r.name == "voipano_async"]
    assert levels == [logging.INFO, logging.DEBUG, logging.INFO]


async def test_not_found_is_final(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/call-recordings/gone").respond(404)
    with pytest.raises(NotFoundError):
        async with client.stream_call_recording("gone"):
            pass
    assert route.call_count == 1


# -- the policy as users configure it ---------------------------------------------------------


async def test_a_configured_policy_sets_the_attempts_and_the_waits(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(anyio, "sleep", record)
    route = api.get("/services").mock(side_effect=httpx2.Response(503))
    policy = RetryPolicy(max_retries=4, initial=0.25, cap=1.0, jitter=0)

    async with AsyncVoipano("token-0123456789", retry=policy) as client:
        assert client.retry == policy
        with pytest.raises(ServerError):
            await client.services()

    assert route.call_count == 5
    assert waits == [0.25, 0.5, 1.0, 1.0]


async def test_a_policy_on_a_copy_leaves_the_original_alone(api: respx.MockRouter) -> None:
    route = api.get("/services").mock(side_effect=httpx2.Response(503))
    async with AsyncVoipano("token-0123456789", retry=FAST) as client:
        once = client.with_options(retry=RetryPolicy(max_retries=0))
        with pytest.raises(ServerError):
            await once.services()
        assert route.call_count == 1
        with pytest.raises(ServerError):
            await client.services()
        assert route.call_count == 1 + 3
        assert client.with_options(max_retries=5).retry == attrs.evolve(FAST, max_retries=5)


async def test_a_server_asking_to_wait_longer_than_the_policy_allows_gets_its_error(
    api: respx.MockRouter,
) -> None:
    route = api.get("/services").mock(
        side_effect=httpx2.Response(429, headers={"Retry-After": "30"})
    )
    async with AsyncVoipano("token-0123456789", retry=FAST) as patient:
        impatient = patient.with_options(retry=attrs.evolve(FAST, max_retry_after=5))
        with pytest.raises(RateLimitError) as info:
            await impatient.services()
    assert route.call_count == 1
    assert info.value.retry_after == 30


def test_max_retries_and_retry_must_agree() -> None:
    assert AsyncVoipano("t0123456789", max_retries=4).retry == RetryPolicy(max_retries=4)
    assert AsyncVoipano("t0123456789", retry=FAST).retry is FAST
    same = AsyncVoipano("t0123456789", max_retries=2, retry=RetryPolicy(max_retries=2))
    assert same.max_retries == 2
    with pytest.raises(ValueError, match="disagree"):
        AsyncVoipano("t0123456789", max_retries=5, retry=RetryPolicy(max_retries=1))
    with pytest.raises(TypeError, match="RetryPolicy"):
        AsyncVoipano("t0123456789", retry={"max_retries": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": True}, ValueError),
        ({"initial": -0.5}, ValueError),
        ({"cap": float("inf")}, ValueError),
        ({"max_retry_after": "60"}, TypeError),
        ({"jitter": 1.5}, ValueError),
    ],
)
def test_a_policy_out_of_range_is_refused_when_made(fields: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        RetryPolicy(**fields)


def test_the_blocking_client_takes_the_same_policy() -> None:
    from voipano_async import Voipano

    with Voipano("token-0123456789", retry=FAST) as client:
        assert client.retry is FAST
        assert client.with_options(retry=RetryPolicy(max_retries=0)).max_retries == 0
