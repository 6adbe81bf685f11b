"""Response metadata: every result says how it came back; every error, which request it was."""

from __future__ import annotations

import attrs
import httpx2
import pytest
import respx

from voipano_async import (
    APIConnectionError,
    APIError,
    AsyncVoipano,
    InvalidPhoneNumberError,
    NotFoundError,
    ResponseMeta,
    ServerError,
    ServiceList,
    UnexpectedResponseError,
    Voipano,
)

from . import samples
from .conftest import FAST, TOKEN

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("endpoint", samples.ENDPOINTS, ids=lambda e: e.name)
async def test_every_result_carries_its_meta(
    api: respx.MockRouter, client: AsyncVoipano, endpoint: samples.Endpoint
) -> None:
    api.route(method=endpoint.method, path__regex=f"{endpoint.path}$").respond(
        200,
        json=endpoint.answer,
        headers={"X-Request-Id": f"req-{endpoint.name}", "X-Extra": "1"},
    )

    result = await endpoint.call(client)

    assert result.meta.status_code == 200
    assert result.meta.request_id == f"req-{endpoint.name}"
    assert result.meta.headers["x-extra"] == "1"  # case-insensitive, as HTTP headers are
    assert result.meta.attempts == 1
    assert result.meta.elapsed >= 0


async def test_request_id_comes_from_request_id_then_the_body(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.post("/call-otp")
    route.side_effect = [
        httpx2.Response(200, json=samples.CALL_OTP, headers={"Request-Id": "from-header"}),
        httpx2.Response(200, json=samples.CALL_OTP),
    ]
    api.get("/services").respond(200, json=samples.SERVICES)

    by_header = await client.call_otp("09123456789")
    by_body = await client.call_otp("09123456789")
    neither = await client.services()

    assert by_header.meta.request_id == "from-header"
    assert by_body.meta.request_id == samples.CALL_OTP["data"]["request_id"]
    assert neither.meta.request_id is None


async def test_meta_counts_the_attempts_of_a_retried_call(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").mock(
        side_effect=[
            httpx2.Response(503),
            httpx2.ConnectError("refused"),
            httpx2.Response(200, json=samples.SERVICES),
        ]
    )

    services = await client.services()

    assert services.meta.attempts == 3


async def test_meta_is_no_part_of_a_results_value(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").mock(
        side_effect=[
            httpx2.Response(200, json=samples.SERVICES, headers={"X-Request-Id": "rid-first"}),
            httpx2.Response(503),
            httpx2.Response(200, json=samples.SERVICES, headers={"X-Request-Id": "two"}),
        ]
    )

    first = await client.services()
    second = await client.services()

    assert first.meta != second.meta
    assert first == second
    # Results hold lists and so are not hashable; were they, meta would not count.
    assert attrs.fields(ServiceList).meta.hash is False
    assert "meta" not in repr(first)
    assert "rid-first" not in repr(first)
    assert "meta" not in attrs.asdict(first, filter=lambda a, _: a.eq)
    built = ServiceList(items=[], total=0, billing=first.billing)
    assert built.meta.status_code == 0
    assert built.meta.attempts == 0


async def test_each_page_of_a_walk_has_its_own_meta(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    def page(request: httpx2.Request) -> httpx2.Response:
        number = int(request.url.params["page"])
        ids = [number * 2 - 1, number * 2]
        body = samples.reports_page(ids, page=number, per_page=2, total=6)
        return httpx2.Response(200, json=body, headers={"X-Request-Id": f"p{number}"})

    api.get("/call-reports").mock(side_effect=page)

    ids = [p.meta.request_id async for p in client.call_reports(concurrency=2).pages()]

    assert ids == ["p1", "p2", "p3"]


async def test_a_stream_has_the_meta_of_its_answer(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/call-recordings/abc").mock(
        side_effect=[
            httpx2.Response(502),
            httpx2.Response(
                200,
                content=b"RIFF....",
                headers={**samples.RECORDING_HEADERS, "X-Request-Id": "rec-1"},
            ),
        ]
    )

    async with client.stream_call_recording("abc") as audio:
        assert audio.meta.status_code == 200
        assert audio.meta.request_id == "rec-1"
        assert audio.meta.attempts == 2
        assert audio.meta.headers["content-type"] == audio.content_type


async def test_an_api_error_names_its_request_and_attempts(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").mock(
        return_value=httpx2.Response(503, headers={"X-Request-Id": "busy-1"})
    )
    api.get("/voicemail-inboxes").respond(
        404, json={"ok": False, "message": "یافت نشد", "request_id": "gone-7"}
    )

    with pytest.raises(ServerError) as server:
        await client.services()
    with pytest.raises(NotFoundError) as missing:
        await client.voicemail_inboxes()

    assert (server.value.request_id, server.value.attempts) == ("busy-1", 3)
    assert (missing.value.request_id, missing.value.attempts) == ("gone-7", 1)


async def test_ok_false_on_a_2xx_and_a_misfit_answer_carry_the_request_id(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").respond(
        200, json={"ok": False, "message": "no"}, headers={"X-Request-Id": "okf"}
    )
    api.get("/voicemail-inboxes").respond(
        200, json={"ok": True, "data": {"items": "x"}}, headers={"X-Request-Id": "bad"}
    )

    with pytest.raises(APIError) as refused:
        await client.services()
    with pytest.raises(UnexpectedResponseError) as misfit:
        await client.voicemail_inboxes()

    assert (refused.value.request_id, refused.value.attempts) == ("okf", 1)
    assert (misfit.value.request_id, misfit.value.attempts) == ("bad", 1)


async def test_a_connection_error_counts_its_attempts(api: respx.MockRouter) -> None:
    api.get("/services").mock(side_effect=httpx2.ConnectError("refused"))
    api.post("/call-otp").mock(side_effect=httpx2.ReadError("reset"))

    async with AsyncVoipano(TOKEN, retry=attrs.evolve(FAST, max_retries=3)) as client:
        with pytest.raises(APIConnectionError) as free:
            await client.services()
        with pytest.raises(APIConnectionError) as charged:
            await client.call_otp("09123456789")

    assert (free.value.attempts, free.value.request_id) == (4, None)
    # A charged call that may have reached the server is never re-sent: one attempt.
    assert charged.value.attempts == 1
    assert charged.value.may_have_been_placed


async def test_an_error_before_any_request_made_no_attempt(client: AsyncVoipano) -> None:
    with pytest.raises(InvalidPhoneNumberError) as info:
        await client.call_otp("12345")
    assert info.value.attempts == 0
    assert info.value.request_id is None


async def test_a_server_echoing_the_token_as_request_id_has_it_scrubbed(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").respond(200, json=samples.SERVICES, headers={"X-Request-Id": TOKEN})
    api.get("/voicemail-inboxes").respond(500, headers={"X-Request-Id": f"id-{TOKEN}"})

    services = await client.services()
    with pytest.raises(ServerError) as info:
        await client.voicemail_inboxes()

    assert TOKEN not in str(services.meta.request_id)
    assert TOKEN not in str(info.value.request_id)


def test_the_blocking_client_returns_the_same_meta(api: respx.MockRouter) -> None:
    api.get("/services").respond(200, json=samples.SERVICES, headers={"X-Request-Id": "sync-1"})
    with Voipano(TOKEN) as client:
        services = client.services()
    assert isinstance(services.meta, ResponseMeta)
    assert services.meta.request_id == "sync-1"
