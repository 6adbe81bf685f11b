"""``DefaultAioHttpClient``: aiohttp's pool under the SDK, failing as httpx2's does.

Every failure a server or a network can cause is met on both stacks (``sockets``), and
must come out as the same SDK error with the same ``may_have_been_placed``: a charged call
that may have reached the server is never sent again on either.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import anyio
import anyio.abc
import httpx2
import pytest

from voipano_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncVoipano,
    DefaultAioHttpClient,
    ServerError,
    VoipanoError,
)
from voipano_async.testing import VoipanoSandbox

from . import samples
from .conftest import FAST, TOKEN, run_python
from .loopback import head, serve

pytestmark = pytest.mark.anyio

Handler = Callable[[str, anyio.abc.SocketStream], Awaitable[None]]
PHONE = "09123456789"


async def answer_nothing(request: str, stream: anyio.abc.SocketStream) -> None:
    """Read the request, then close: the server may have acted on it."""


async def answer_half(request: str, stream: anyio.abc.SocketStream) -> None:
    await stream.send(head(200, {"Content-Type": "application/json"}, length=400))
    await stream.send(b'{"ok": true, "data": {')


async def answer_garbage(request: str, stream: anyio.abc.SocketStream) -> None:
    await stream.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


async def answer_late(request: str, stream: anyio.abc.SocketStream) -> None:
    await anyio.sleep(5)


async def answer_502(request: str, stream: anyio.abc.SocketStream) -> None:
    body = b"<html>bad gateway</html>"
    await stream.send(head(502, {"Content-Type": "text/html"}, length=len(body)) + body)


# What the SDK says, on either stack: (error type, may_have_been_placed).
FAILURES: dict[str, tuple[Handler, type[VoipanoError], bool]] = {
    "closed without answering": (answer_nothing, APIConnectionError, True),
    "body cut off": (answer_half, APIConnectionError, True),
    "not HTTP": (answer_garbage, APIConnectionError, True),
    "no answer in time": (answer_late, APITimeoutError, True),
    "a 502 page": (answer_502, ServerError, True),
}


@pytest.mark.sockets
@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_charged_call_fails_the_same_on_both_stacks_and_is_sent_once(
    failure: str, http_stack: str
) -> None:
    handler, error, placed = FAILURES[failure]
    async with serve(handler) as (url, received):
        client = AsyncVoipano(TOKEN, base_url=f"{url}/api", retry=FAST, timeout=0.5)
        async with client:
            with anyio.fail_after(10), pytest.raises(VoipanoError) as info:
                await client.call_otp(PHONE)

    assert type(info.value) is error, repr(info.value)
    assert info.value.may_have_been_placed is placed
    assert len(received) == 1  # never sent again: it may have been placed
    assert TOKEN not in str(info.value)


@pytest.mark.sockets
async def test_a_refused_connection_is_not_sent_so_a_charged_call_is_retried(
    http_stack: str,
) -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    await listener.aclose()  # nothing listens there now
    async with AsyncVoipano(TOKEN, base_url=f"http://127.0.0.1:{port}/api", retry=FAST) as c:
        with anyio.fail_after(10), pytest.raises(APIConnectionError) as info:
            await c.call_otp(PHONE)
    assert not info.value.may_have_been_placed
    assert info.value.attempts == 3  # refused before anything was sent: safe to retry
    assert "connection failed" in str(info.value)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_wait_for_a_connection_past_pool_is_a_pool_timeout() -> None:
    async with (
        serve(answer_late) as (url, _),
        DefaultAioHttpClient(limits=httpx2.Limits(max_connections=1)) as http,
    ):
        timeout = httpx2.Timeout(5.0, pool=0.2)

        async def hold() -> None:
            with anyio.move_on_after(1):
                await http.get(f"{url}/slow", timeout=timeout)

        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            await anyio.sleep(0.1)
            with pytest.raises(httpx2.PoolTimeout):
                await http.get(f"{url}/other", timeout=timeout)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_sdk_runs_on_it_against_the_sandbox(tmp_path: Path) -> None:
    sandbox = VoipanoSandbox(reports=250)
    async with sandbox.serve() as base_url, DefaultAioHttpClient() as http:
        async with AsyncVoipano(sandbox.token, base_url=base_url, http_client=http) as client:
            otp = await client.call_otp(PHONE)
            pager = client.call_reports(per_page=20, concurrency=8)
            ids = [report.id async for report in pager]
            [report] = [r async for r in client.call_reports(has_recording=True, max_items=1)]
            path = await client.download_call_recording(report, tmp_path)
        assert not http.is_closed  # the caller's: closed by the caller
    assert otp.billing is not None
    assert otp.billing.charged == 160
    assert len(ids) == len(set(ids)) == 251
    assert path.stat().st_size > 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_download_streams_in_bounded_memory(tmp_path: Path) -> None:
    size = 32 * 2**20

    async def big(request: str, stream: anyio.abc.SocketStream) -> None:
        await stream.send(head(200, samples.RECORDING_HEADERS, length=size))
        chunk = b"\0" * 2**16
        for _ in range(size // len(chunk)):
            await stream.send(chunk)

    async with (
        serve(big) as (url, _),
        DefaultAioHttpClient() as http,
        AsyncVoipano(TOKEN, base_url=f"{url}/api", http_client=http) as client,
    ):
        gc.collect()
        tracemalloc.start()
        try:
            path = await client.download_call_recording("67bc8ea2f8f8a7d1287995f1", tmp_path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert path.stat().st_size == size
    assert peak < 8 * 2**20  # a 32 MiB body, never held whole (seen: about 4 MiB)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_application_s_session_is_shared_and_never_closed() -> None:
    hits: list[str] = []

    async def services(request: str, stream: anyio.abc.SocketStream) -> None:
        hits.append(request)
        body = json.dumps(samples.SERVICES).encode()
        await stream.send(head(200, {"Content-Type": "application/json"}, length=len(body)))
        await stream.send(body)

    async with serve(services) as (url, _), aiohttp.ClientSession(raise_for_status=True) as app:
        http = DefaultAioHttpClient(session=app)
        async with AsyncVoipano(TOKEN, base_url=f"{url}/api", http_client=http) as client:
            assert (await client.services()).total == 1
        await http.aclose()
        assert not app.closed  # the application's session: still the application's
        async with app.get(f"{url}/api/services") as response:
            assert response.status == 200
    assert len(hits) == 2


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_hooks_and_auth_set_on_it_later_act_on_the_sdk_s_requests() -> None:
    # The SDK hands its requests to the aiohttp transport itself while nothing of
    # httpx2's client would act on them; a hook or an auth set later must still see them.
    sandbox = VoipanoSandbox()
    seen: list[str] = []

    async def hook(request: httpx2.Request) -> None:
        seen.append(request.url.path)

    def tag(request: httpx2.Request) -> httpx2.Request:
        request.headers["X-Tag"] = "app"
        return request

    async with (
        sandbox.serve() as base_url,
        DefaultAioHttpClient() as http,
        AsyncVoipano(sandbox.token, base_url=base_url, http_client=http) as client,
    ):
        await client.services()
        http.event_hooks = {"request": [hook], "response": []}
        await client.voicemail_inboxes()
        http.event_hooks = {"request": [], "response": []}
        http.auth = tag
        await client.services()
    assert [path.rsplit("/", 1)[-1] for path in seen] == ["voicemail-inboxes"]
    assert [r.headers.get("x-tag") for r in sandbox.requests] == [None, None, "app"]
    assert all(r.account == sandbox.token for r in sandbox.requests)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_closed_client_refuses_a_charged_call_before_sending_it() -> None:
    sandbox = VoipanoSandbox()
    async with sandbox.serve() as base_url:
        http = DefaultAioHttpClient()
        async with AsyncVoipano(sandbox.token, base_url=base_url, http_client=http) as client:
            await client.services()
            await http.aclose()
            with pytest.raises(VoipanoError, match="HTTP client is closed") as info:
                await client.call_otp(PHONE)
    assert not info.value.may_have_been_placed
    assert [r.path for r in sandbox.requests] == ["/services"]


def test_a_session_with_its_own_settings_refuses_ours() -> None:
    with pytest.raises(ValueError, match="configure verify"):
        DefaultAioHttpClient(session=object(), verify=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_on_trio_it_says_to_use_the_default_client() -> None:
    async with DefaultAioHttpClient() as http:
        client = AsyncVoipano(TOKEN, base_url="http://127.0.0.1:9/api", http_client=http)
        with pytest.raises(TypeError, match="asyncio only"):
            await client.services()


def test_without_aiohttp_the_import_names_the_extra() -> None:
    script = (
        "import sys\n"
        "import voipano_async\n"
        "print('aiohttp' in sys.modules)\n"  # imported only when asked for
        "sys.modules['aiohttp'] = None\n"  # as when the extra is not installed
        "try:\n"
        "    voipano_async.DefaultAioHttpClient\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert run_python(script).splitlines() == [
        "False",
        "DefaultAioHttpClient needs the aiohttp extra: pip install 'voipano-async[aiohttp]'",
    ]


@pytest.mark.sockets
async def test_no_proxy_and_a_netrc_entry_are_heeded_as_on_httpx2(
    http_stack: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A proxy for everything but the API host, and a ~/.netrc with the API host in it:
    the request goes straight to the host, with the SDK's token only."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))

    async def services(request: str, stream: anyio.abc.SocketStream) -> None:
        body = json.dumps(samples.SERVICES).encode()
        await stream.send(head(200, {"Content-Type": "application/json"}, length=len(body)))
        await stream.send(body)

    async with serve(answer_nothing) as (proxy_url, proxied), serve(services) as (url, got):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncVoipano(TOKEN, base_url=f"{url}/api", max_retries=0) as client:
            assert (await client.services()).total == 1
    assert proxied == []
    [request] = got
    headers = request.lower()
    assert f"authorization: bearer {TOKEN}" in headers
    assert "basic" not in headers  # the netrc's login is not ours to send
