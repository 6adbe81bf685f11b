"""``client.request``: an endpoint the SDK has no method for, with everything a method has."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
import respx

from voipano_async import (
    APITimeoutError,
    AsyncVoipano,
    AuthenticationError,
    RawResult,
    ServerError,
    SpendLimitExceededError,
    UnexpectedResponseError,
    UnprocessableEntityError,
    VoipanoError,
)
from voipano_async.testing import Fault, VoipanoSandbox

from .conftest import FAST, TOKEN
from .otel import Otel, in_memory

pytestmark = pytest.mark.anyio

otel = pytest.fixture(in_memory, name="otel")

BALANCE = {"ok": True, "data": {"credit": 9840, "currency": "IRR"}, "message": "OK"}


async def test_a_get_answers_with_its_data_as_sent(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/balance").respond(200, json=BALANCE, headers={"X-Request-Id": "r-1"})

    balance = await client.request(
        "GET", "/balance", params={"detail": "1"}, extra_headers={"X-Trace": "t"}
    )

    assert isinstance(balance, RawResult)
    assert balance.data == {"credit": 9840, "currency": "IRR"}
    assert balance.extra == {"message": "OK"}  # the answer's other top-level keys
    assert (balance.billing.charged, balance.billing.unit_price) == (0, 0)  # left out: free
    assert balance.meta.request_id == "r-1"
    assert balance.meta.status_code == 200
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["x-trace"] == "t"
    assert sent.url.params["detail"] == "1"
    assert json.loads(balance.to_json()) == {
        "data": {"credit": 9840, "currency": "IRR"},
        "billing": {"charged": 0, "unit_price": 0, "remaining_credit": None},
        "message": "OK",
    }


@pytest.mark.parametrize("data", [[1, 2], "queued", None, 0])
async def test_data_that_is_not_an_object_comes_back_as_it_is(
    api: respx.MockRouter, client: AsyncVoipano, data: Any
) -> None:
    api.get("/status").respond(200, json={"ok": True, "data": data})
    assert (await client.request("GET", "/status")).data == data


async def test_a_free_read_is_retried_as_a_method_s_read_is(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/balance")
    route.side_effect = [httpx2.Response(503), httpx2.Response(200, json=BALANCE)]

    balance = await client.request("get", "/balance")

    assert balance.data["credit"] == 9840
    assert balance.meta.attempts == 2
    assert route.call_count == 2


async def test_a_post_is_charged_unless_declared_free_and_never_sent_twice(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.post("/call-status").respond(502)

    with pytest.raises(ServerError) as info:
        await client.request("POST", "/call-status", json={"request_id": "r-1"})

    assert info.value.may_have_been_placed
    assert route.call_count == 1  # a 502 may have come after the server acted
    assert json.loads(route.calls.last.request.content) == {"request_id": "r-1"}
    assert info.value.request_line == "POST /call-status"

    route.side_effect = [httpx2.Response(502), httpx2.Response(200, json=BALANCE)]
    free = await client.request("POST", "/call-status", json={"request_id": "r-1"}, charged=False)
    assert free.meta.attempts == 2
    assert route.call_count == 3


async def test_a_get_declared_charged_is_not_re_sent_either(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/ring").respond(503)
    with pytest.raises(ServerError) as info:
        await client.request("GET", "/ring", charged=True)
    assert info.value.may_have_been_placed
    assert route.call_count == 1


async def test_errors_are_the_sdk_s_typed_errors(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/refused").respond(401, json={"ok": False, "message": "token"})
    api.post("/invalid").respond(
        422, json={"ok": False, "error": {"code": "invalid", "errors": {"x": ["bad"]}}}
    )
    api.get("/html").respond(200, text="<html>maintenance</html>")
    api.get("/ok-false").respond(200, json={"ok": False, "message": "no such call"})

    with pytest.raises(AuthenticationError):
        await client.request("GET", "/refused")
    with pytest.raises(UnprocessableEntityError) as invalid:
        await client.request("POST", "/invalid", json={})
    assert invalid.value.errors == {"x": ["bad"]}
    assert not invalid.value.may_have_been_placed  # refused, so never placed
    with pytest.raises(UnexpectedResponseError) as html:
        await client.request("GET", "/html")
    assert html.value.request_line == "GET /html"
    with pytest.raises(VoipanoError, match="no such call"):
        await client.request("GET", "/ok-false")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "https://evil.example/balance"),
        ("GET", "//evil.example/balance"),
        ("GET", "balance"),
        ("GET", "/balance?all=1"),
        ("GET", "/../admin"),
        ("GET", "/a/./b"),
        ("GET", "/bal ance"),
        ("HEAD", "/balance"),
        ("TRACE", "/balance"),
    ],
)
async def test_a_path_or_method_that_could_go_elsewhere_is_refused_before_sending(
    api: respx.MockRouter, client: AsyncVoipano, method: str, path: str
) -> None:
    with pytest.raises(ValueError, match=r"method|path"):
        await client.request(method, path)
    assert not api.calls


async def test_billing_is_read_tolerantly_or_strictly_as_the_client_says() -> None:
    sandbox = VoipanoSandbox(dialect="php")  # "charged": "160.00", and so on
    async with sandbox.client() as client:
        otp = await client.request("POST", "/call-otp", json={"phone_number": "09123456789"})
        assert (otp.billing.charged, otp.billing.remaining_credit) == (160, 9840)
        assert any("$.billing.charged" in note for note in otp.meta.drift)
        assert client.spent == 160

        with pytest.raises(UnexpectedResponseError) as info:
            await client.with_options(strict_responses=True).request(
                "POST", "/call-otp", json={"phone_number": "09123456789"}
            )
    assert info.value.may_have_been_placed  # it was charged: the answer said so
    assert sandbox.credit == 10_000 - 320


async def test_the_spend_guard_counts_a_charged_request() -> None:
    sandbox = VoipanoSandbox()
    async with sandbox.client(spend_limit=300) as client:
        await client.request("POST", "/call-otp", json={"phone_number": "09123456789"})
        assert client.spent == 160
        with pytest.raises(SpendLimitExceededError):  # 160 more would pass 300
            await client.call_otp("09123456789")
        # A free declared request is never counted nor refused.
        await client.request("GET", "/services")
    assert len(sandbox.requests) == 2


async def test_a_path_with_no_known_price_learns_it_from_the_answer(
    api: respx.MockRouter,
) -> None:
    billing = {"charged": 50, "unit_price": 50, "remaining_credit": 900}
    api.post("/sms").respond(200, json={"ok": True, "data": {}, "billing": billing})
    async with AsyncVoipano(TOKEN, retry=FAST, spend_limit=120) as client:
        await client.request("POST", "/sms", json={})
        await client.request("POST", "/sms", json={})
        assert client.spent == 100
        with pytest.raises(SpendLimitExceededError):  # now known: 50 more would pass 120
            await client.request("POST", "/sms", json={})
    assert len(api.calls) == 2


async def test_a_charged_request_dropped_after_acting_is_not_re_sent() -> None:
    sandbox = VoipanoSandbox()
    sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))
    async with sandbox.client() as client:
        with pytest.raises(VoipanoError) as info:
            await client.request("POST", "/call-otp", json={"phone_number": "09123456789"})
    assert info.value.may_have_been_placed
    assert len(sandbox.requests) == 1
    assert client.spent == 160  # counted at the path's price: it may have been placed


async def test_the_deadline_holds() -> None:
    sandbox = VoipanoSandbox()
    sandbox.faults.script("/services", Fault.slow(30))
    async with sandbox.client(max_retries=0, deadline=0.2) as client:
        with pytest.raises(APITimeoutError):
            await client.request("GET", "/services")


async def test_a_request_is_one_span_like_a_method(api: respx.MockRouter, otel: Otel) -> None:
    api.get("/balance").respond(200, json=BALANCE)
    async with AsyncVoipano(
        TOKEN, tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider
    ) as client:
        await client.request("GET", "/balance")
    [span] = [s for s in otel.finished() if s.name == "voipano.request"]
    assert span.attributes is not None
    assert span.attributes["voipano.endpoint"] == "/balance"


def test_the_blocking_client_has_it_too() -> None:
    sandbox = VoipanoSandbox()
    with sandbox.sync_client() as client:
        services = client.request("GET", "/services")
        assert services.data["total"] == len(sandbox.services)
        client.request("POST", "/call-otp", json={"phone_number": "09123456789"})
        assert client.spent == 160
