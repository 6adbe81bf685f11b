"""Every error shape and status the API may send becomes the right typed error."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
import respx

from voipano_async import (
    APIConnectionError,
    APIError,
    AsyncVoipano,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    UnprocessableEntityError,
    VoipanoError,
)

from . import samples

pytestmark = pytest.mark.anyio


@pytest.fixture
def client(api: respx.MockRouter) -> AsyncVoipano:
    # No retries: each test looks at one answer.
    return AsyncVoipano("token-0123456789", max_retries=0)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, APIError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (599, ServerError),
    ],
)
async def test_status_maps_to_error_type(
    api: respx.MockRouter, client: AsyncVoipano, status: int, error_type: type[APIError]
) -> None:
    api.get("/services").respond(status, json={"ok": False, "message": "خطا"})

    with pytest.raises(error_type) as info:
        await client.services()

    error = info.value
    assert type(error) is error_type
    assert isinstance(error, VoipanoError)
    assert error.status_code == status
    assert error.message == "خطا"
    assert error.body == {"ok": False, "message": "خطا"}


@pytest.mark.parametrize(
    ("body", "message", "code", "errors"),
    [
        ({"ok": False, "message": "توکن نامعتبر است"}, "توکن نامعتبر است", None, {}),
        (
            {"ok": False, "error": {"code": "invalid_token", "message": "Invalid token"}},
            "Invalid token",
            "invalid_token",
            {},
        ),
        ({"ok": False, "error": "دسترسی ندارید"}, "دسترسی ندارید", None, {}),
        (
            {
                "message": "The given data was invalid.",
                "errors": {"phone_number": ["شماره تلفن نامعتبر است.", "too short"]},
            },
            "The given data was invalid.",
            None,
            {"phone_number": ["شماره تلفن نامعتبر است.", "too short"]},
        ),
        ({"ok": False, "error": {"code": 1042}}, "Bad Request", "1042", {}),
        ({"unexpected": ["shape"]}, "Bad Request", None, {}),
        ([1, 2, 3], "Bad Request", None, {}),
        (
            {"ok": False, "errors": {"x": "one message", "y": [None, 3]}},
            "Bad Request",
            None,
            {"x": ["one message"], "y": ["3"]},
        ),
    ],
)
async def test_error_shapes(
    api: respx.MockRouter,
    client: AsyncVoipano,
    body: Any,
    message: str,
    code: str | None,
    errors: dict[str, list[str]],
) -> None:
    api.get("/services").respond(400, json=body)

    with pytest.raises(BadRequestError) as info:
        await client.services()

    assert info.value.message == message
    assert info.value.code == code
    assert info.value.errors == errors
    assert info.value.body == body


async def test_validation_error_reads_well_in_persian(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.post("/call-otp").respond(
        422,
        json={"message": "داده نامعتبر است.", "errors": {"phone_number": ["شماره نامعتبر است."]}},
    )

    with pytest.raises(UnprocessableEntityError) as info:
        await client.call_otp("09123456789")

    text = str(info.value)
    assert "داده نامعتبر است." in text
    assert "phone_number: شماره نامعتبر است." in text
    assert "HTTP 422" in text
    assert "\\u" not in text
    # A refused charged call was not placed.
    assert info.value.may_have_been_placed is False


async def test_persian_message_survives_any_declared_charset(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    content = '{"ok": false, "message": "اعتبار کافی نیست"}'.encode()
    api.get("/services").respond(
        402, content=content, headers={"Content-Type": "application/json; charset=latin-1"}
    )
    with pytest.raises(InsufficientCreditError, match="اعتبار کافی نیست"):
        await client.services()


@pytest.mark.parametrize("code", ["insufficient_credit", "INSUFFICIENT_BALANCE"])
async def test_insufficient_code_means_insufficient_credit(
    api: respx.MockRouter, client: AsyncVoipano, code: str
) -> None:
    api.post("/click-to-call").respond(
        400, json={"ok": False, "error": {"code": code, "message": "اعتبار کافی نیست"}}
    )
    with pytest.raises(InsufficientCreditError) as info:
        await client.click_to_call("09123456789", "09129876543")
    assert info.value.status_code == 400
    assert info.value.code == code


async def test_ok_false_on_http_200_is_an_api_error(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").respond(200, json={"ok": False, "message": "سرویس غیرفعال است"})
    with pytest.raises(APIError) as info:
        await client.services()
    assert type(info.value) is APIError
    assert info.value.status_code == 200
    assert info.value.message == "سرویس غیرفعال است"


async def test_ok_false_on_200_with_insufficient_code(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.post("/call-otp").respond(
        200, json={"ok": False, "error": {"code": "insufficient_credit", "message": "no"}}
    )
    with pytest.raises(InsufficientCreditError):
        await client.call_otp("09123456789")


@pytest.mark.parametrize(
    ("status", "content", "content_type", "error_type", "said"),
    [
        (
            502,
            b"<html><body>Bad Gateway</body></html>",
            "text/html",
            ServerError,
            ": an HTML page answered, not the API",
        ),
        (500, b"", "text/html", ServerError, ""),
        (403, b"Forbidden by proxy", "text/plain", PermissionDeniedError, ""),
        (
            403,
            b"Forbidden by proxy",
            "text/html; charset=UTF-8",
            PermissionDeniedError,
            ": an HTML page answered, not the API",
        ),
        (
            403,
            b"<!DOCTYPE html>\n<html><head><title>Attention Required! | Cloudflare</title>",
            "text/html",
            PermissionDeniedError,
            ': an HTML page answered, not the API: "Attention Required! | Cloudflare"',
        ),
        (
            500,
            b"<!doctype html><html><head>\n<title>\n  Server Error &amp; more\n</title>",
            "application/octet-stream",
            ServerError,
            ': an HTML page answered, not the API: "Server Error & more"',
        ),
    ],
)
async def test_non_json_error_bodies(
    api: respx.MockRouter,
    client: AsyncVoipano,
    status: int,
    content: bytes,
    content_type: str,
    error_type: type[APIError],
    said: str,
) -> None:
    api.get("/services").respond(status, content=content, headers={"Content-Type": content_type})
    with pytest.raises(error_type) as info:
        await client.services()
    assert info.value.status_code == status
    assert info.value.body == content.decode()
    reason = info.value.response.reason_phrase  # type: ignore[union-attr]
    # The status class stays; the message says whether the API answered at all.
    assert str(info.value) == f"{reason}{said} (HTTP {status}, GET /services)"


async def test_a_2xx_html_page_says_that_a_page_answered(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    page = b"<html><head><title>Sign in - Hotel WiFi</title></head></html>"
    api.get("/services").respond(200, content=page, headers={"Content-Type": "text/html"})
    with pytest.raises(UnexpectedResponseError) as info:
        await client.services()
    assert 'an HTML page answered, not the API: "Sign in - Hotel WiFi"' in str(info.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html>maintenance</html>", "not JSON"),
        (b"", "not JSON"),
        (b'{"ok": true, "data": ', "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"ok": "yes", "data": {}}', "expected a boolean @ $.ok"),
        (b'{"ok": true}', "expected an object @ $.data"),
        (b'{"ok": true, "data": []}', "expected an object @ $.data"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    ],
)
async def test_unreadable_success_bodies(
    api: respx.MockRouter, client: AsyncVoipano, content: bytes, expected: str
) -> None:
    api.get("/services").respond(200, content=content)
    with pytest.raises(UnexpectedResponseError) as info:
        await client.services()
    assert expected in str(info.value)
    assert info.value.status_code == 200


async def test_wrong_types_are_explained_with_paths(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    answer = {
        "ok": True,
        "data": {
            "items": [{"subscription_id": "12", "status": "active", "package": {"id": True}}],
            "total": 1.5,
        },
        "billing": {"charged": 0},
    }
    api.get("/services").respond(200, json=answer)

    with pytest.raises(UnexpectedResponseError) as info:
        await client.with_options(strict_responses=True).services()
    problems = info.value.problems
    assert "expected an integer, got a string @ $.data.items[0].subscription_id" in problems

    # Read tolerantly, "12" is 12 (and no problem); the rest is as wrong as before.
    with pytest.raises(UnexpectedResponseError) as info:
        await client.services()
    problems = info.value.problems
    assert not any("subscription_id" in problem for problem in problems)
    assert "expected an integer, got a boolean @ $.data.items[0].package.id" in problems
    assert "expected an integer, got a number @ $.data.total" in problems
    assert "required field missing @ $.billing.unit_price" in problems
    assert info.value.body == answer
    assert info.value.may_have_been_placed is False


async def test_missing_required_field(api: respx.MockRouter, client: AsyncVoipano) -> None:
    answer = {"ok": True, "data": {"items": [{"mailbox": "1001"}]}, "billing": None}
    api.get("/voicemail-inboxes").respond(200, json=answer)
    with pytest.raises(UnexpectedResponseError) as info:
        await client.voicemail_inboxes()
    assert "required field missing @ $.data.items[0].id" in info.value.problems
    assert "required field missing @ $.data.allowed_contexts" in info.value.problems


async def test_free_endpoint_without_billing_costs_nothing(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    answer = {"ok": True, "data": samples.SERVICES["data"]}
    api.get("/services").respond(200, json=answer)
    services = await client.services()
    assert (services.billing.charged, services.billing.unit_price) == (0, 0)


async def test_unreadable_answer_to_charged_call_warns_it_may_have_been_placed(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    answer = {"ok": True, "data": samples.CALL_OTP["data"]}  # no billing
    route = api.post("/call-otp").respond(200, json=answer)

    with pytest.raises(UnexpectedResponseError) as info:
        await client.with_options(strict_responses=True).call_otp("09123456789")

    assert info.value.may_have_been_placed is True
    assert "may have been placed" in str(info.value)
    assert route.call_count == 1

    # Read tolerantly, the placed call is a result, its price counted as spent.
    otp = await client.call_otp("09123456789")
    assert otp.billing is None
    assert otp.meta.drift == ("$.billing: missing, so the published price is counted as spent",)
    assert client.spent == 2 * 160


async def test_rate_limit_error_carries_retry_after(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").respond(429, headers={"Retry-After": "7"}, json={"message": "slow down"})
    with pytest.raises(RateLimitError) as info:
        await client.services()
    assert info.value.retry_after == 7.0


async def test_error_keeps_the_response(api: respx.MockRouter, client: AsyncVoipano) -> None:
    api.get("/services").respond(404, json={"message": "nope"}, headers={"X-Request-Id": "abc"})
    with pytest.raises(NotFoundError) as info:
        await client.services()
    assert info.value.response is not None
    assert info.value.response.headers["X-Request-Id"] == "abc"
    assert info.value.response.json() == {"message": "nope"}
    assert repr(info.value) == (
        "NotFoundError('nope (HTTP 404, GET /services)', status_code=404, request_id='abc')"
    )


async def test_repr_keeps_what_str_says(api: respx.MockRouter, client: AsyncVoipano) -> None:
    """Guides log with %r: the request line and may_have_been_placed must survive it."""
    api.post("/call-otp").respond(
        500, json={"ok": False, "error": {"code": "upstream", "message": "خطا"}}
    )
    api.get("/services").mock(side_effect=httpx2.ConnectError("refused"))
    with pytest.raises(ServerError) as placed:
        await client.call_otp("09123456789")
    with pytest.raises(APIConnectionError) as down:
        await client.with_options(max_retries=0).services()

    shown = repr(placed.value)
    assert shown.startswith("ServerError('خطا (HTTP 500, code upstream, POST /call-otp).")
    assert "check the call reports before repeating it" in shown
    assert "status_code=500, code='upstream'" in shown
    assert "may_have_been_placed=True" in shown
    assert repr(down.value) == f"APIConnectionError({str(down.value)!r})"
    assert "GET /services" in repr(down.value)


async def test_gzip_garbage_is_an_unexpected_response() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=httpx2.ByteStream(b"definitely not gzip"),
        )

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = AsyncVoipano("token-0123456789", http_client=http)
        with pytest.raises(UnexpectedResponseError, match="could not be decoded"):
            await client.services()


def test_error_tree() -> None:
    from voipano_async import APIConnectionError, APITimeoutError, InvalidPhoneNumberError

    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, VoipanoError)
    assert issubclass(InvalidPhoneNumberError, ValueError)
    assert issubclass(InvalidPhoneNumberError, VoipanoError)
    for error in (
        BadRequestError,
        AuthenticationError,
        InsufficientCreditError,
        PermissionDeniedError,
        NotFoundError,
        UnprocessableEntityError,
        RateLimitError,
        ServerError,
    ):
        assert issubclass(error, APIError)
    assert not issubclass(UnexpectedResponseError, APIError)
