"""Hostile servers and careless callers: every hang is bounded, every failure is typed."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import anyio
import anyio.abc
import anyio.lowlevel
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
    ServerError,
    UnexpectedResponseError,
)

from . import samples
from .conftest import FAST, TOKEN
from .loopback import head, serve

pytestmark = pytest.mark.anyio

SERVICES_BODY = json.dumps(samples.SERVICES).encode()


# -- a deadline for the whole attempt ---------------------------------------------------------


async def _drip(request: str, stream: anyio.abc.SocketStream) -> None:
    """Headers, then one byte of an endless JSON string every 50 ms."""
    await stream.send(head(200, {"Content-Type": "application/json"}, length=10_000_000))
    await stream.send(b'{"ok": true, "data": {"x": "')
    while True:
        await stream.send(b"x")
        await anyio.sleep(0.05)


@pytest.mark.sockets
async def test_a_drip_fed_answer_hits_the_deadline() -> None:
    async with serve(_drip) as (url, received):
        client = AsyncVoipano(
            TOKEN, base_url=f"{url}/api", deadline=0.5, retry=attrs.evolve(FAST, max_retries=1)
        )
        async with client:
            with anyio.fail_after(10), pytest.raises(APITimeoutError) as info:
                await client.services()

    assert "deadline exceeded on GET /services" in str(info.value)
    assert len(received) == 2  # a free call is retried once, then given up


@pytest.mark.sockets
async def test_a_charged_call_past_its_deadline_is_marked_and_sent_once() -> None:
    async with serve(_drip) as (url, received):
        client = AsyncVoipano(TOKEN, base_url=f"{url}/api", deadline=0.5, retry=FAST)
        async with client:
            with anyio.fail_after(10), pytest.raises(APITimeoutError) as info:
                await client.call_otp("09123456789")
            assert client.spent == 160  # counted: it may have been placed

    assert info.value.may_have_been_placed
    assert len(received) == 1


@pytest.mark.sockets
async def test_the_deadline_is_set_per_call_with_with_options() -> None:
    async with serve(_drip) as (url, _):
        client = AsyncVoipano(TOKEN, base_url=f"{url}/api", deadline=None, max_retries=0)
        async with client:
            with anyio.fail_after(10), pytest.raises(APITimeoutError, match=r"within 0\.3s"):
                await client.with_options(deadline=0.3).services()


@pytest.mark.parametrize("deadline", [0, -1, True, "5"])
def test_a_deadline_must_be_positive_seconds(deadline: object) -> None:
    with pytest.raises(ValueError, match="deadline"):
        AsyncVoipano(TOKEN, deadline=deadline)  # type: ignore[arg-type]


# -- bodies are bounded, compressed or not ----------------------------------------------------


class _Endless(httpx2.AsyncByteStream):
    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.sent = 0

    def __aiter__(self) -> _Endless:
        return self

    async def __anext__(self) -> bytes:
        await anyio.lowlevel.checkpoint()  # so that fail_after can end a regression
        self.sent += len(self.chunk)
        return self.chunk


async def test_an_endless_successful_answer_is_refused_at_the_cap(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    body = _Endless(b" " * 65536)
    api.get("/services").mock(
        return_value=httpx2.Response(
            200, headers={"Content-Type": "application/json"}, stream=body
        )
    )
    with anyio.fail_after(20), pytest.raises(UnexpectedResponseError, match="larger than"):
        await client.services()
    assert body.sent <= 8 * 1024 * 1024 + 65536


def _bomb(size: int) -> bytes:
    return gzip.compress(b"\0" * size, compresslevel=9)


@pytest.mark.parametrize(("status", "error"), [(500, ServerError), (200, UnexpectedResponseError)])
async def test_a_gzip_bomb_is_inflated_only_up_to_the_cap(
    status: int, error: type[Exception]
) -> None:
    bomb = _bomb(140 * 1024 * 1024)
    assert len(bomb) < 200 * 1024

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            status, headers={"Content-Encoding": "gzip"}, stream=httpx2.ByteStream(bomb)
        )

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    client = AsyncVoipano(TOKEN, http_client=http, max_retries=0)

    tracemalloc.start()
    try:
        with anyio.fail_after(20), pytest.raises(error) as info:
            await client.services()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    if isinstance(info.value, APIError):
        assert isinstance(info.value.body, str)
        assert len(info.value.body) <= 64 * 1024


async def test_a_gzipped_answer_within_the_cap_reads_as_usual(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    with anyio.fail_after(10):
        api.get("/services").respond(
            200, content=gzip.compress(SERVICES_BODY), headers={"Content-Encoding": "gzip"}
        )
        assert (await client.services()).total == 1


async def test_an_unsupported_content_encoding_is_an_unexpected_response(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    with anyio.fail_after(10):
        api.get("/services").respond(200, content=b"....", headers={"Content-Encoding": "br"})
        with pytest.raises(UnexpectedResponseError, match="could not be decoded") as info:
            await client.services()
        assert "unsupported content encoding 'br'" in str(info.value)


# -- auto-paging never trusts last_page blindly -------------------------------------------------


async def _drain(reports: AsyncIterator[object]) -> None:
    async for _ in reports:
        pass


def _page(number: int, ids: list[int]) -> dict[str, object]:
    page = samples.reports_page(ids, page=number, per_page=len(ids), total=10**9)
    page["data"]["pagination"]["last_page"] = 10**9  # type: ignore[index]
    return page


async def test_a_server_that_ignores_page_stops_the_walk(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    async def always_page_one(request: httpx2.Request) -> httpx2.Response:
        await anyio.lowlevel.checkpoint()  # so that fail_after can end a regression
        return httpx2.Response(200, json=_page(1, [1, 2, 3]))

    route = api.get("/call-reports").mock(side_effect=always_page_one)
    seen: list[str] = []

    async def walk() -> None:
        async for report in client.call_reports():
            seen.append(report.id)

    with anyio.fail_after(10), pytest.raises(UnexpectedResponseError) as info:
        await walk()

    assert "asked for page 2, the server answered page 1" in str(info.value)
    assert len(seen) == 3
    # The first window and the pages asked for as it answered: once page 2 comes back
    # as page 1, no page after it is asked for.
    assert route.call_count <= 2 * 4


async def test_a_server_that_stops_paging_mid_walk_is_asked_for_no_more_pages(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    # From page 20 on (the second batch at concurrency 2), every answer is page 1's.
    async def stops_paging(request: httpx2.Request) -> httpx2.Response:
        await anyio.lowlevel.checkpoint()
        number = int(request.url.params["page"])
        shown = number if number < 20 else 1
        first = (shown - 1) * 3 + 1
        return httpx2.Response(200, json=_page(shown, [first, first + 1, first + 2]))

    route = api.get("/call-reports").mock(side_effect=stops_paging)
    with anyio.fail_after(10), pytest.raises(UnexpectedResponseError) as info:
        await _drain(client.call_reports(concurrency=2))
    assert "asked for page 20, the server answered page 1" in str(info.value)
    # Pages 1-19, page 20, and at most the one beside it in flight: not the rest of the
    # batch (pages 17-32).
    assert route.call_count <= 21


async def test_a_server_that_repeats_the_same_reports_stops_the_walk(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    async def same_reports(request: httpx2.Request) -> httpx2.Response:
        await anyio.lowlevel.checkpoint()
        number = int(request.url.params["page"])
        return httpx2.Response(200, json=_page(number, [1, 2, 3]))

    route = api.get("/call-reports").mock(side_effect=same_reports)
    with anyio.fail_after(10), pytest.raises(UnexpectedResponseError, match="already seen"):
        await _drain(client.call_reports(concurrency=1))
    # Page 1, then one batch of pages (8 at concurrency 1): three would have been enough
    # to tell, and no more batches follow.
    assert route.call_count <= 1 + 8


# -- redirects that lead nowhere are typed errors ---------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        None,
        "javascript:alert(1)",
        "mailto:a@example.com",
        "http://127.0.0.1:99999/x",
        "http://[::1",
    ],
)
@pytest.mark.sockets
async def test_an_unfollowable_redirect_is_an_api_error(location: str | None) -> None:
    async def redirect(request: str, stream: anyio.abc.SocketStream) -> None:
        headers = {} if location is None else {"Location": location}
        await stream.send(head(302, headers, length=0))

    async with serve(redirect) as (url, _):
        client = AsyncVoipano(TOKEN, base_url=f"{url}/api", max_retries=0)
        async with client:
            with anyio.fail_after(10), pytest.raises(APIError) as info:
                await client.services()

    assert type(info.value) is APIError
    assert info.value.status_code == 302
    assert "GET /services" in str(info.value)


# -- money and secrets ------------------------------------------------------------------------


async def test_headers_that_cannot_be_sent_are_refused_before_reserving_credit(
    api: respx.MockRouter,
) -> None:
    with anyio.fail_after(10):
        route = api.post("/call-otp").respond(200, json=samples.CALL_OTP)
        async with AsyncVoipano(TOKEN, spend_limit=160) as client:
            with pytest.raises(ValueError, match="ASCII"):
                await client.call_otp("09123456789", extra_headers={"X-Note": "سلام"})
            with pytest.raises(ValueError, match="one line"):
                await client.call_otp("09123456789", extra_headers={"X-Note": "a\r\nInjected: 1"})
            assert client.spent == 0
            assert not route.called
            # The budget is whole: the next call goes through.
            await client.call_otp("09123456789")
            assert client.spent == 160


async def test_a_negative_charge_never_lowers_spending(api: respx.MockRouter) -> None:
    with anyio.fail_after(10):
        negative = json.loads(json.dumps(samples.CALL_OTP))
        negative["billing"]["charged"] = -100_000
        api.post("/call-otp").respond(200, json=negative)
        async with AsyncVoipano(TOKEN, spend_limit=200) as client:
            with pytest.raises(UnexpectedResponseError, match=r"\$\.billing\.charged") as info:
                await client.call_otp("09123456789")
            assert info.value.may_have_been_placed
            assert client.spent == 160  # counted at its price, as any unreadable answer


async def test_a_token_echoed_in_the_error_code_is_scrubbed(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    with anyio.fail_after(10):
        api.get("/services").respond(
            400, json={"ok": False, "code": f"bad-{TOKEN}", "message": "x"}
        )
        with pytest.raises(APIError) as info:
            await client.services()
        assert TOKEN not in str(info.value)
        assert TOKEN not in repr(info.value)
        assert info.value.code == "bad-***"


@pytest.mark.parametrize("status", [200, 502])
async def test_a_token_across_the_preview_cut_leaks_no_half(
    api: respx.MockRouter, client: AsyncVoipano, status: int
) -> None:
    # The token starts a few characters before the 2,000-character cut of the preview.
    with anyio.fail_after(10):
        text = "x" * (2000 - 6) + TOKEN + " and more"
        api.get("/services").respond(status, text=text, headers={"Content-Type": "text/html"})
        with pytest.raises((UnexpectedResponseError, ServerError)) as info:
            await client.with_options(max_retries=0).services()
        shown = f"{info.value} {info.value!r} {getattr(info.value, 'body', '')}"
        assert TOKEN[:6] not in shown


@pytest.mark.parametrize("per_page", [True, 2.5, 0, "10"])
async def test_per_page_is_checked_like_page_before_sending(
    api: respx.MockRouter, client: AsyncVoipano, per_page: object
) -> None:
    with anyio.fail_after(10):
        route = api.get("/call-reports").respond(200, json=samples.CALL_REPORTS)
        with pytest.raises(ValueError, match="per_page"):
            await client.call_reports_page(1, per_page=per_page)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="per_page"):
            client.call_reports(per_page=per_page)  # type: ignore[arg-type]
        assert not route.called


# -- errors say where they went wrong ---------------------------------------------------------


@pytest.mark.sockets
async def test_a_404_without_json_names_the_request_and_hints_at_the_base_url() -> None:
    async def not_found(request: str, stream: anyio.abc.SocketStream) -> None:
        await stream.send(head(404, {"Content-Type": "text/html"}, length=9) + b"Not Found")

    async with serve(not_found) as (url, _):
        client = AsyncVoipano(TOKEN, base_url=url, max_retries=0)  # no /api/v1/webservice
        async with client:
            with anyio.fail_after(10), pytest.raises(NotFoundError) as info:
                await client.voicemail_inboxes(context="voicemail-09123456789")

    message = str(info.value)
    assert "GET /voicemail-inboxes" in message
    assert "base_url" in message
    assert "/api/v1/webservice" in message
    assert "09123456789" not in message
    assert info.value.request_line is not None


async def test_a_connection_failure_names_host_and_port() -> None:
    async with AsyncVoipano(TOKEN, base_url="http://127.0.0.1:9/api", max_retries=0) as client:
        with anyio.fail_after(10), pytest.raises(APIConnectionError) as info:
            await client.services()
    assert "(127.0.0.1:9)" in str(info.value)
    assert "GET /services" in str(info.value)


# -- files ------------------------------------------------------------------------------------


async def test_a_long_persian_file_name_fits_the_file_system(
    api: respx.MockRouter, client: AsyncVoipano, tmp_path: Path
) -> None:
    with anyio.fail_after(10):
        name = "ض" * 150 + ".wav"  # 300 bytes of UTF-8: too long for a file name as it is
        api.get("/call-recordings/abc").respond(
            200,
            content=b"RIFF....",
            headers={
                "Content-Type": "audio/wav",
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            },
        )
        path = await client.download_call_recording("abc", tmp_path)
        assert path.read_bytes() == b"RIFF...."
        assert path.suffix == ".wav"
        assert len(path.name.encode()) <= 255
        assert path.name.startswith("ضضض")


async def test_a_body_that_cannot_be_sent_costs_nothing(api: respx.MockRouter) -> None:
    with anyio.fail_after(10):
        route = api.post("/call-otp").respond(200, json=samples.CALL_OTP)
        async with AsyncVoipano(TOKEN, spend_limit=160) as client:
            with pytest.raises(TypeError):
                await client.call_otp("09123456789", extra_body={"when": object()})
            assert client.spent == 0
            assert not route.called
            await client.call_otp("09123456789")
            assert client.spent == 160


async def test_a_transport_that_hands_over_read_responses_still_works() -> None:
    """A caching or mocking transport may return the same read response again and again."""
    answer = httpx2.Response(200, json=samples.SERVICES)
    await answer.aread()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return answer

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        client = AsyncVoipano(TOKEN, http_client=http)
        with anyio.fail_after(10):
            assert [(await client.services()).total for _ in range(3)] == [1, 1, 1]
