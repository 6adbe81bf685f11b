"""Construction, closing, sharing, concurrency caps, proxies and cancellation."""

from __future__ import annotations

import json

import anyio
import anyio.abc
import anyio.lowlevel
import httpx2
import pytest
import respx

from voipano_async import APITimeoutError, AsyncVoipano, VoipanoError

from . import samples
from .conftest import BASE_URL, FAST
from .loopback import head, serve

pytestmark = pytest.mark.anyio

SERVICES_BODY = json.dumps(samples.SERVICES).encode()


# -- construction -----------------------------------------------------------------------


def test_no_token_names_the_environment_variable() -> None:
    with pytest.raises(VoipanoError, match="VOIPANO_TOKEN"):
        AsyncVoipano()
    with pytest.raises(VoipanoError, match="VOIPANO_TOKEN"):
        AsyncVoipano("   ")


async def test_token_and_base_url_from_the_environment(
    api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOIPANO_TOKEN", "from-env")
    monkeypatch.setenv("VOIPANO_BASE_URL", "https://staging.voipano.com/api/v1/webservice")
    route = api.get("https://staging.voipano.com/api/v1/webservice/services").respond(
        200, json=samples.SERVICES
    )
    async with AsyncVoipano() as client:
        await client.services()
    assert route.calls.last.request.headers["Authorization"] == "Bearer from-env"


def test_default_base_url() -> None:
    assert AsyncVoipano("token-0123456789").base_url == "https://voipano.com/api/v1/webservice"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"proxy": "http://proxy:3128", "http_client": httpx2.AsyncClient()}, "proxy"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AsyncVoipano("token-0123456789", **kwargs)  # type: ignore[arg-type]


# -- closing ------------------------------------------------------------------------------


async def test_closed_client_raises_a_clear_error(api: respx.MockRouter) -> None:
    route = api.get("/services").respond(200, json=samples.SERVICES)
    client = AsyncVoipano("token-0123456789")
    async with client:
        await client.services()
    assert client.is_closed
    with pytest.raises(VoipanoError, match="closed"):
        await client.services()
    with pytest.raises(VoipanoError, match="closed"):
        async with client:
            pass
    await client.aclose()  # closing twice is harmless
    assert route.call_count == 1


async def test_a_callers_http_client_is_never_closed(api: respx.MockRouter) -> None:
    api.get("/services").respond(200, json=samples.SERVICES)
    async with httpx2.AsyncClient() as http:
        async with AsyncVoipano("token-0123456789", http_client=http) as client:
            await client.services()
        assert not http.is_closed
        response = await http.get(f"{BASE_URL}/services")
        assert response.status_code == 200


async def test_a_closed_callers_http_client_is_a_voipano_error(api: respx.MockRouter) -> None:
    http = httpx2.AsyncClient()
    await http.aclose()
    client = AsyncVoipano("token-0123456789", http_client=http)
    with pytest.raises(VoipanoError, match="closed"):
        await client.services()


async def test_with_options_shares_the_pool(api: respx.MockRouter) -> None:
    route = api.get("/services").respond(200, json=samples.SERVICES)
    client = AsyncVoipano("token-0123456789", timeout=10)
    patient = client.with_options(timeout=60, max_retries=5)

    assert patient.timeout.read == 60
    assert patient.max_retries == 5
    assert (client.timeout.read, client.max_retries) == (10, 2)
    await patient.services()
    assert route.calls.last.request.extensions["timeout"]["read"] == 60

    await patient.aclose()  # stops the derived client only
    assert patient.is_closed
    assert not client.is_closed
    await client.services()

    other = client.with_options(max_retries=0)
    await client.aclose()  # the pool's owner closes it for everyone
    with pytest.raises(VoipanoError, match="closed"):
        await other.services()


# -- sharing and concurrency --------------------------------------------------------------


async def test_one_client_serves_many_tasks(api: respx.MockRouter, client: AsyncVoipano) -> None:
    route = api.get("/services").respond(200, json=samples.SERVICES)
    results: list[int] = []

    async def call() -> None:
        results.append((await client.services()).total)

    async with anyio.create_task_group() as tg:
        for _ in range(500):
            tg.start_soon(call)

    assert results == [1] * 500
    assert route.call_count == 500


async def test_max_concurrency_caps_requests_in_flight(api: respx.MockRouter) -> None:
    in_flight = most = 0

    async def answer(request: httpx2.Request) -> httpx2.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        in_flight -= 1
        return httpx2.Response(200, json=samples.SERVICES)

    api.get("/services").mock(side_effect=answer)
    api.get("/call-recordings/abc").respond(200, content=b"RIFF")
    client = AsyncVoipano("token-0123456789", max_concurrency=3)

    async def download() -> None:
        async with client.stream_call_recording("abc") as audio:
            # A task holding an open stream can still make other requests.
            await client.services()
            await audio.read()

    async with anyio.create_task_group() as tg:
        for _ in range(30):
            tg.start_soon(client.services)
            tg.start_soon(download)

    assert most == 3


# -- real sockets -------------------------------------------------------------------------


@pytest.mark.sockets
async def test_proxy_is_used() -> None:
    async def proxy(request: str, stream: anyio.abc.SocketStream) -> None:
        await stream.send(
            head(200, {"Content-Type": "application/json"}, length=len(SERVICES_BODY))
        )
        await stream.send(SERVICES_BODY)

    async with serve(proxy) as (proxy_url, received):
        client = AsyncVoipano(
            "t", base_url="http://localhost:9/api/v1/webservice", proxy=proxy_url, max_retries=0
        )
        async with client:
            assert (await client.services()).total == 1

    # An HTTP proxy receives the absolute URL.
    assert received[0].startswith("GET http://localhost:9/api/v1/webservice/services HTTP/1.1")


@pytest.mark.sockets
async def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async def proxy(request: str, stream: anyio.abc.SocketStream) -> None:
        await stream.send(
            head(200, {"Content-Type": "application/json"}, length=len(SERVICES_BODY))
        )
        await stream.send(SERVICES_BODY)

    async with serve(proxy) as (proxy_url, received):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        client = AsyncVoipano("token-0123456789", base_url="http://localhost:9/api", max_retries=0)
        async with client:
            await client.services()

    assert received[0].startswith("GET http://localhost:9/api/services ")


@pytest.mark.sockets
async def test_cancelled_download_leaves_the_pool_healthy(tmp_path: object) -> None:
    streaming = anyio.Event()

    async def server(request: str, stream: anyio.abc.SocketStream) -> None:
        if " /api/call-recordings/" in request:
            await stream.send(head(200, {"Content-Type": "audio/wav"}, length=10_000_000))
            await stream.send(b"RIFF" + b"\0" * 65536)
            streaming.set()
            await anyio.sleep_forever()
        await stream.send(
            head(200, {"Content-Type": "application/json"}, length=len(SERVICES_BODY))
        )
        await stream.send(SERVICES_BODY)

    async with serve(server) as (url, _):
        client = AsyncVoipano("token-0123456789", base_url=f"{url}/api", max_concurrency=1)

        async def download() -> None:
            async with client.stream_call_recording("abc") as audio:
                async for _ in audio.aiter_bytes():
                    pass

        async with client:
            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(download)
                    await streaming.wait()
                    tg.cancel_scope.cancel()
                # The slot and the connection were given back: the next call goes through.
                assert (await client.services()).total == 1
                assert (await client.services()).total == 1


@pytest.mark.sockets
async def test_fail_after_cancels_a_hung_request() -> None:
    async def hung(request: str, stream: anyio.abc.SocketStream) -> None:
        await anyio.sleep_forever()

    async with (
        serve(hung) as (url, received),
        AsyncVoipano("token-0123456789", base_url=f"{url}/api") as client,
    ):
        with pytest.raises(TimeoutError), anyio.fail_after(0.5):
            await client.services()
    assert len(received) == 1


@pytest.mark.sockets
async def test_read_timeout_on_a_real_socket(tmp_path: object) -> None:
    async def hung(request: str, stream: anyio.abc.SocketStream) -> None:
        await anyio.sleep_forever()

    async with serve(hung) as (url, received):
        client = AsyncVoipano("token-0123456789", base_url=f"{url}/api", timeout=0.2, retry=FAST)
        async with client:
            with pytest.raises(APITimeoutError, match="may have been placed"):
                await client.call_otp("09123456789")
            with pytest.raises(APITimeoutError, match="read timeout"):
                await client.services()
    # The charged call once; the read three times (two retries).
    assert [r.split(" ")[1] for r in received] == ["/api/call-otp"] + ["/api/services"] * 3
