"""Every endpoint: the request we send and the result the caller gets."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
import respx

from voipano_async import (
    Answer,
    AsyncVoipano,
    Billing,
    CallOtpResult,
    CallProvider,
    CallResult,
    InvalidPhoneNumberError,
)

from . import samples
from .conftest import TOKEN

pytestmark = pytest.mark.anyio


def sent_json(route: respx.Route) -> object:
    return json.loads(route.calls.last.request.content)


def test_every_method_answering_json_has_a_row_in_the_samples() -> None:
    """The tests that hold for every endpoint take their cases from ``samples.ENDPOINTS``."""
    returns = samples.methods()
    answering = {n for n, r in returns.items() if isinstance(r, type) and issubclass(r, Answer)}
    rows = {e.name: e for e in samples.ENDPOINTS}
    assert answering == set(rows), "add the missing row to ENDPOINTS in tests/samples.py"
    for name, endpoint in rows.items():
        assert returns[name] is endpoint.result, name


async def test_call_otp_sends_normalised_number_and_returns_result(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.post("/call-otp").respond(200, json=samples.CALL_OTP)

    otp = await client.call_otp("+98 912 345 6789", purpose="login", client_ref="req-otp-1001")

    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("voipano-async/")
    assert sent_json(route) == {
        "phone_number": "09123456789",
        "purpose": "login",
        "client_ref": "req-otp-1001",
    }
    assert otp == CallOtpResult(
        request_id="3dfd4fd4-5a2e-42a7-8f51-944fe18ca81a",
        phone_number="09123***789",
        purpose="login",
        message="کد تایید ارسال شد.",
        billing=Billing(charged=160, unit_price=160, remaining_credit=9840),
    )


async def test_call_otp_omits_unset_optional_fields(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.post("/call-otp").respond(200, json=samples.CALL_OTP)
    await client.call_otp("۰۹۱۲۳۴۵۶۷۸۹")
    assert sent_json(route) == {"phone_number": "09123456789"}


async def test_click_to_call(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.post("/click-to-call").respond(200, json=samples.CLICK_TO_CALL)

    call = await client.click_to_call("0912-345-6789", "02191010001", timeout=30, limit=45)

    assert sent_json(route) == {
        "call_source": "09123456789",
        "call_destination": "02191010001",
        "timeout": 30,
        "limit": 45,
    }
    assert call == CallResult(
        request_id="7c8f3dd6-18c7-4e34-94bf-009d019f1d58",
        endpoint_number="02191010001",
        status="accepted",
        provider=CallProvider(success=True, status=201),
        billing=Billing(charged=80, unit_price=80, remaining_credit=9920),
    )


async def test_secure_call_without_provider(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.post("/secure-call").respond(200, json=samples.SECURE_CALL)

    call = await client.secure_call("09123456789", "0098 912 987 6543", limit=30)

    assert sent_json(route) == {
        "call_source": "09123456789",
        "call_destination": "09129876543",
        "limit": 30,
    }
    assert call.provider is None
    assert call.status == "accepted"
    assert call.billing.charged == 120
    assert call.billing.remaining_credit == 9880


@pytest.mark.parametrize("method", ["click_to_call", "secure_call"])
async def test_the_api_timeout_goes_in_the_body_and_the_http_one_does_not(
    api: respx.MockRouter, client: AsyncVoipano, method: str
) -> None:
    path = "/" + method.replace("_", "-")
    route = api.post(path).respond(200, json=samples.CLICK_TO_CALL)
    call = getattr(client, method)

    await call("09123456789", "02191010001", timeout=30, limit=600, request_timeout=7)

    assert sent_json(route) == {
        "call_source": "09123456789",
        "call_destination": "02191010001",
        "timeout": 30,
        "limit": 600,
    }
    assert route.calls.last.request.extensions["timeout"]["read"] == 7
    with pytest.raises(TypeError, match="timout"):
        await call("09123456789", "02191010001", timout=30)
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("call_otp", ("12345",)),
        ("click_to_call", ("09123456789", "not a number")),
        ("secure_call", ("+1 555 0100 123", "09123456789")),
    ],
)
async def test_bad_phone_number_fails_before_any_request(
    api: respx.MockRouter, client: AsyncVoipano, method: str, args: tuple[str, ...]
) -> None:
    route = api.route()
    with pytest.raises(InvalidPhoneNumberError) as info:
        await getattr(client, method)(*args)
    assert isinstance(info.value, ValueError)
    assert route.call_count == 0


async def test_call_reports_page(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/call-reports").respond(200, json=samples.CALL_REPORTS)

    page = await client.call_reports_page(1, per_page=10, has_recording=True)

    assert route.calls.last.request.url.params == httpx2.QueryParams(
        {"page": "1", "limit": "10", "has_recording": "1"}
    )
    assert page.endpoint_number == "02191010001"
    assert (page.pagination.page, page.pagination.per_page) == (1, 10)
    assert (page.pagination.total, page.pagination.last_page) == (32, 4)
    [report] = page.items
    assert report.id == "67bc8ea2f8f8a7d1287995f1"
    assert report.call_details_record_id == "67bc8ea2f8f8a7d1287995f1"
    assert report.has_recording is True
    assert report.recording_url is not None
    assert report.recording_url.startswith("https://example.com/")
    assert page.billing == Billing(charged=0, unit_price=0)


async def test_call_reports_page_without_recording_filter(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/call-reports").respond(200, json=samples.CALL_REPORTS)
    await client.call_reports_page(3, has_recording=False)
    assert dict(route.calls.last.request.url.params) == {"page": "3", "has_recording": "0"}


async def test_services(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/services").respond(200, json=samples.SERVICES)

    services = await client.services()

    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert services.total == 1
    [service] = services.items
    assert service.subscription_id == 12
    assert service.status == "active"
    assert service.remaining_days == 26
    assert service.package is not None
    assert (service.package.id, service.package.name, service.package.slug) == (
        2,
        "پلن پیوند",
        "peyvand",
    )
    assert service.phone_number == "002191010001"


async def test_voicemail_inboxes(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/voicemail-inboxes").respond(200, json=samples.VOICEMAIL_INBOXES)

    inboxes = await client.voicemail_inboxes(context="voicemail-02191010001", limit=20)

    assert dict(route.calls.last.request.url.params) == {
        "context": "voicemail-02191010001",
        "limit": "20",
    }
    [inbox] = inboxes.items
    assert (inbox.id, inbox.mailbox, inbox.context, inbox.fullname) == (
        "67bc8f2df8f8a7d12879960f",
        "1001",
        "voicemail-02191010001",
        "Ali",
    )
    assert inboxes.allowed_contexts == ["voicemail-02191010001", "voicemail-user-15"]


async def test_voicemail_inboxes_without_filters(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/voicemail-inboxes").respond(200, json=samples.VOICEMAIL_INBOXES)
    await client.voicemail_inboxes()
    assert not route.calls.last.request.url.params


async def test_unknown_fields_stay_reachable(api: respx.MockRouter, client: AsyncVoipano) -> None:
    answer = json.loads(json.dumps(samples.CALL_REPORTS))
    answer["data"]["items"][0] |= {"duration": 42, "started_at": "2026-11-01T10:00:00Z"}
    answer["data"]["generated_at"] = "now"
    answer["billing"]["currency"] = "IRR"
    api.get("/call-reports").respond(200, json=answer)

    page = await client.call_reports_page()

    assert page.items[0].extra == {"duration": 42, "started_at": "2026-11-01T10:00:00Z"}
    assert page.extra == {"generated_at": "now"}
    assert page.billing.extra == {"currency": "IRR"}
    assert page.pagination.extra == {}


async def test_per_call_extras_are_sent(api: respx.MockRouter, client: AsyncVoipano) -> None:
    reports = api.get("/call-reports").respond(200, json=samples.CALL_REPORTS)
    otp = api.post("/call-otp").respond(200, json=samples.CALL_OTP)

    await client.call_reports_page(
        extra_query={"from": "2026-10-01"}, extra_headers={"X-Trace": "abc"}
    )
    await client.call_otp("09123456789", extra_body={"language": "fa"})

    request = reports.calls.last.request
    assert request.url.params["from"] == "2026-10-01"
    assert request.headers["X-Trace"] == "abc"
    assert sent_json(otp) == {"phone_number": "09123456789", "language": "fa"}


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda c: c.call_otp("09123456789", purpos="login"), "'purpos'"),
        (lambda c: c.click_to_call("09123456789", "09129876543", extra_json={}), "'extra_json'"),
        (lambda c: c.services(extra_body={"a": 1}), "only the charged calls send a body"),
        (lambda c: c.download_call_recording("abc", ".", request_timout=5), "'request_timout'"),
    ],
    ids=["charged", "charged-extra", "read-with-body", "download"],
)
async def test_a_misspelt_keyword_fails_before_any_request(
    api: respx.MockRouter, client: AsyncVoipano, call: Any, word: str
) -> None:
    with pytest.raises(TypeError, match=word):
        await call(client)
    assert api.calls.call_count == 0
    assert client.spent == 0


async def test_a_walk_with_a_misspelt_keyword_fails_when_made(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    with pytest.raises(TypeError, match="'extra_querry'"):
        client.call_reports(extra_querry={"from": "2026-10-01"})  # type: ignore[call-arg]
    assert api.calls.call_count == 0


async def test_a_walk_sends_its_options_with_every_page(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    first = samples.reports_page([1, 2], page=1, per_page=2, total=4)
    second = samples.reports_page([3, 4], page=2, per_page=2, total=4)
    route = api.get("/call-reports").mock(
        side_effect=[httpx2.Response(200, json=first), httpx2.Response(200, json=second)]
    )

    async for _ in client.call_reports(
        concurrency=1, extra_query={"from": "2026-10-01"}, extra_headers={"X-Trace": "abc"}
    ):
        pass

    assert route.call_count == 2
    for call in route.calls:
        assert call.request.url.params["from"] == "2026-10-01"
        assert call.request.headers["X-Trace"] == "abc"


async def test_extra_headers_cannot_override_authorization(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/services").respond(200, json=samples.SERVICES)
    with pytest.raises(ValueError, match="Authorization"):
        await client.services(extra_headers={"authorization": "Bearer stolen"})
    assert route.call_count == 0


async def test_request_timeout_applies_to_one_call(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/services").respond(200, json=samples.SERVICES)

    await client.services(request_timeout=1.5)
    await client.services()

    first, second = (call.request.extensions["timeout"] for call in route.calls)
    assert first["read"] == 1.5
    assert second["read"] == client.timeout.read
