"""Secrets stay secret, paths stay paths, and hostile answers cannot hurt the caller."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import httpx2
import pytest
import respx
from click.testing import CliRunner

from voipano_async import (
    APIConnectionError,
    AsyncVoipano,
    AuthenticationError,
    ServerError,
    VoipanoError,
)
from voipano_async.cli._app import cli

from . import samples
from .conftest import TOKEN

pytestmark = pytest.mark.anyio


# -- base URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://voipano.com/api/v1/webservice",
        "https://api.example.ir:8443/v1",
        "http://127.0.0.1:8765/api/v1/webservice",
        "http://127.8.9.10/api",
        "http://localhost:8000/api/v1/webservice",
        "http://[::1]:8000/api",
    ],
)
def test_accepted_base_urls(base_url: str) -> None:
    assert AsyncVoipano("token-0123456789", base_url=base_url).base_url == base_url


@pytest.mark.parametrize(
    "base_url",
    [
        "http://voipano.com/api/v1/webservice",
        "http://10.0.0.5/api",
        "http://localhost.evil.com/api",
        "ftp://voipano.com/api",
        "voipano.com/api",
        "https://",
    ],
)
def test_refused_base_urls(base_url: str) -> None:
    with pytest.raises(VoipanoError, match="base_url"):
        AsyncVoipano("token-0123456789", base_url=base_url)


async def test_plain_http_to_another_host_is_an_explicit_opt_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "http://sandbox:8000/api/v1/webservice"  # a sandbox container in a compose network
    with pytest.raises(VoipanoError, match="allow_http=True"):
        AsyncVoipano(TOKEN, base_url=url)
    with pytest.raises(VoipanoError, match="base_url"):
        AsyncVoipano(TOKEN, base_url="ftp://sandbox/api", allow_http=True)

    with respx.mock(base_url=url) as mock:
        mock.get("/services").respond(200, json=samples.SERVICES)
        async with AsyncVoipano(TOKEN, base_url=url, allow_http=True) as client:
            copy = client.with_options(timeout=5)
            assert (await copy.services()).total == 1
        sent = mock.calls.last.request
    assert str(sent.url) == f"{url}/services"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    # Said aloud once, by the constructor, without the token.
    [warning] = [r for r in caplog.records if "unencrypted" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert "sandbox" in warning.getMessage()
    assert TOKEN not in caplog.text


def test_the_cli_allows_plain_http_only_with_allow_http() -> None:
    # .invalid never resolves: past the check, the request fails on the network.
    url = "http://sandbox.invalid:8000/api/v1/webservice"
    runner = CliRunner()
    refused = runner.invoke(cli, ["--token", TOKEN, "--base-url", url, "services"])
    allowed = runner.invoke(
        cli, ["--token", TOKEN, "--base-url", url, "--allow-http", "--max-retries=0", "services"]
    )

    assert refused.exit_code == 2
    assert "--base-url must be an https URL" in refused.output
    assert "or with --allow-http" in refused.output
    assert allowed.exit_code == 1
    assert "APIConnectionError: connection failed on GET /services" in allowed.output


# -- the token ----------------------------------------------------------------------------


def test_token_is_not_in_repr() -> None:
    client = AsyncVoipano(TOKEN)
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.__dict__)
    assert TOKEN not in repr(vars(client._transport))


async def test_token_is_never_logged(
    api: respx.MockRouter, client: AsyncVoipano, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    api.post("/call-otp").mock(
        side_effect=[httpx2.ConnectError("refused"), httpx2.Response(200, json=samples.CALL_OTP)]
    )
    api.get("/services").mock(side_effect=[httpx2.Response(503), httpx2.Response(401)])
    api.get("/voicemail-inboxes").respond(200, json=samples.VOICEMAIL_INBOXES)
    api.get("/call-recordings/abc").respond(200, content=b"RIFF")

    with caplog.at_level(logging.DEBUG):
        await client.call_otp("09123456789")
        with pytest.raises(AuthenticationError):
            await client.services()
        await client.voicemail_inboxes(context="voicemail-02191010001")
        await client.download_call_recording("abc", tmp_path)

    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.__dict__)
        assert TOKEN not in text
    ours = [r.getMessage() for r in caplog.records if r.name == "voipano_async"]
    assert any("voicemail-02191***001" in message for message in ours)
    assert not any("02191010001" in message for message in ours)


async def test_token_echoed_by_the_server_is_redacted_from_errors(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").respond(
        401,
        json={"message": f"token Bearer {TOKEN} is revoked", "errors": {"token": [TOKEN]}},
    )
    with pytest.raises(AuthenticationError) as info:
        await client.services()
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert "***" in str(info.value)


async def test_a_toy_token_does_not_garble_messages(api: respx.MockRouter) -> None:
    api.get("/services").respond(401, json={"message": "token is not valid"})
    with pytest.raises(AuthenticationError) as info:
        await AsyncVoipano("token-0123456789").services()
    assert info.value.message == "token is not valid"


async def test_token_is_not_in_connection_errors(api: respx.MockRouter) -> None:
    api.get("/services").mock(side_effect=httpx2.ConnectError(f"refused {TOKEN}"))
    client = AsyncVoipano(TOKEN, max_retries=0)
    with pytest.raises(APIConnectionError) as info:
        await client.services()
    assert TOKEN not in str(info.value)


async def test_redirect_off_host_never_carries_the_token(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/call-recordings/abc").respond(
        302, headers={"Location": "https://cdn.example.net/files/abc.wav?sig=1"}
    )
    cdn = api.get("https://cdn.example.net/files/abc.wav").respond(200, content=b"RIFF")

    async with client.stream_call_recording("abc") as audio:
        assert await audio.read() == b"RIFF"

    assert "Authorization" not in cdn.calls.last.request.headers


async def test_redirect_on_host_keeps_the_token(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/call-recordings/abc").respond(302, headers={"Location": "/api/v1/webservice/x"})
    moved = api.get("/x").respond(200, content=b"RIFF")

    async with client.stream_call_recording("abc") as audio:
        assert await audio.read() == b"RIFF"

    assert moved.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_redirect_to_plain_http_on_the_same_host_drops_the_token(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/call-recordings/abc").respond(
        301, headers={"Location": "http://voipano.com/api/v1/webservice/x"}
    )
    plain = api.get("http://voipano.com/api/v1/webservice/x").respond(200, content=b"RIFF")
    async with client.stream_call_recording("abc") as audio:
        await audio.read()
    assert "Authorization" not in plain.calls.last.request.headers


async def test_endless_redirects_end(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/call-recordings/abc").respond(302, headers={"Location": "./abc"})
    with pytest.raises(APIConnectionError, match="too many redirects"):
        async with client.stream_call_recording("abc"):
            pass
    assert route.call_count == 6


async def test_charged_calls_do_not_follow_redirects(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.post("/call-otp").respond(307, headers={"Location": "https://evil.example/call-otp"})
    evil = api.post("https://evil.example/call-otp")
    with pytest.raises(VoipanoError):
        await client.call_otp("09123456789")
    assert evil.call_count == 0


async def test_a_callers_http_client_following_redirects_still_keeps_the_token_home(
    api: respx.MockRouter,
) -> None:
    api.get("/call-recordings/abc").respond(302, headers={"Location": "https://cdn.example.net/a"})
    cdn = api.get("https://cdn.example.net/a").respond(200, content=b"RIFF")
    async with httpx2.AsyncClient(follow_redirects=True) as http:
        client = AsyncVoipano(TOKEN, http_client=http)
        async with client.stream_call_recording("abc") as audio:
            await audio.read()
    assert "Authorization" not in cdn.calls.last.request.headers


# -- path parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "raw_path"),
    [
        ("../services", "/api/v1/webservice/call-recordings/..%2Fservices"),
        ("..", "/api/v1/webservice/call-recordings/%2E%2E"),
        (".", "/api/v1/webservice/call-recordings/%2E"),
        ("a b/c?d#e", "/api/v1/webservice/call-recordings/a%20b%2Fc%3Fd%23e"),
        ("1739558127.155", "/api/v1/webservice/call-recordings/1739558127.155"),
        ("ضبط", "/api/v1/webservice/call-recordings/%D8%B6%D8%A8%D8%B7"),
    ],
)
async def test_path_parameters_are_one_segment(
    api: respx.MockRouter, client: AsyncVoipano, value: str, raw_path: str
) -> None:
    route = api.route().respond(200, content=b"RIFF")
    async with client.stream_call_recording(value) as audio:
        await audio.read()
    assert route.calls.last.request.url.raw_path.split(b"?")[0] == raw_path.encode()


@pytest.mark.parametrize("value", ["", "   "])
async def test_empty_path_parameters_raise(
    api: respx.MockRouter, client: AsyncVoipano, value: str, tmp_path: Path
) -> None:
    route = api.route()
    with pytest.raises(ValueError, match="empty"):
        client.stream_call_recording(value)
    with pytest.raises(ValueError, match="empty"):
        await client.download_voicemail_recording(value, tmp_path, context="c", mailbox="1")
    assert route.call_count == 0


# -- hostile answers ----------------------------------------------------------------------


async def test_error_bodies_are_read_up_to_a_bound(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    sent = 0

    class Endless(httpx2.AsyncByteStream):
        # An iterator, not a generator: nothing is left for a finalizer when we stop early.
        def __aiter__(self) -> Endless:
            return self

        async def __anext__(self) -> bytes:
            nonlocal sent
            sent += 65536
            return b"x" * 65536

    api.get("/services").mock(return_value=httpx2.Response(500, stream=Endless()))
    client = client.with_options(max_retries=0)

    with anyio.fail_after(10), pytest.raises(ServerError) as info:
        await client.services()

    assert isinstance(info.value.body, str)
    assert len(info.value.body) <= 64 * 1024
    assert sent <= 2 * 64 * 1024
