"""The request path's fast paths behave as the general ones did.

Requests are built from parts made once (the URL of a path, the client's headers merged
with ours); a client whose headers, params or cookies change between calls, or whose class
builds requests its own way, must still be seen. Telemetry skips the call's record while
no OpenTelemetry provider is set, and records again as soon as one is.
"""

from __future__ import annotations

import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from voipano_async import AsyncVoipano

from . import samples
from .conftest import BASE_URL, FAST, TOKEN

pytestmark = pytest.mark.anyio


def recording_client(seen: list[httpx2.Request], **kwargs: object) -> httpx2.AsyncClient:
    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=samples.SERVICES)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(answer), **kwargs)  # type: ignore[arg-type]


async def test_changes_to_a_shared_clients_headers_params_and_cookies_are_sent() -> None:
    seen: list[httpx2.Request] = []
    async with (
        recording_client(seen, headers={"X-App": "one"}) as http,
        AsyncVoipano(TOKEN, http_client=http, retry=FAST) as client,
    ):
        await client.services()
        http.headers["X-App"] = "two"
        http.params = httpx2.QueryParams({"tenant": "7"})
        http.cookies.set("session", "abc", domain="voipano.com")
        await client.services()
        http.headers = httpx2.Headers({"X-Other": "three"})
        await client.services(extra_headers={"X-Call": "four"})

    first, second, third = seen
    assert first.headers["X-App"] == "one"
    assert second.headers["X-App"] == "two"
    assert second.url.params["tenant"] == "7"
    assert second.headers["Cookie"] == "session=abc"
    assert "X-App" not in third.headers
    assert third.headers["X-Other"] == "three"
    assert third.headers["X-Call"] == "four"
    for request in seen:
        assert str(request.url).startswith(f"{BASE_URL}/services")
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"].startswith("voipano-async/")


async def test_a_client_class_that_builds_its_own_requests_is_asked_to() -> None:
    seen: list[httpx2.Request] = []
    built: list[str] = []

    class Tagging(httpx2.AsyncClient):
        def build_request(self, method: str, url: object, **kwargs: object) -> httpx2.Request:
            built.append(str(url))
            request = super().build_request(method, url, **kwargs)  # type: ignore[arg-type]
            request.headers["X-Tag"] = "mine"
            return request

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=samples.SERVICES)

    async with (
        Tagging(transport=httpx2.MockTransport(answer)) as http,
        AsyncVoipano(TOKEN, http_client=http, retry=FAST) as client,
    ):
        await client.services()
    assert built == [f"{BASE_URL}/services"]
    assert seen[0].headers["X-Tag"] == "mine"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "query",
    [
        {"page": 3, "limit": 100},
        {"name": "علی رضا", "q": "a&b=c d+e/f?g#h", "empty": ""},
        {"flag": True, "off": False, "none": None, "many": ["1", "2"], "ratio": 0.5},
        {"page": 1, "tag": "x", "n": -7},
        {"a key": "x_y.z-w~v", "ä": "١۲٣", "": "0", "q": "*'()!"},
    ],
)
async def test_a_query_is_sent_as_httpx2_would_encode_it(query: dict[str, object]) -> None:
    # Plain str/int queries take a shorter path to the URL; any query must come out as
    # httpx2's own encoding of it.
    seen: list[httpx2.Request] = []
    async with (
        recording_client(seen) as http,
        AsyncVoipano(TOKEN, http_client=http, retry=FAST) as client,
    ):
        await client.request("GET", "/balance", params=query)
    expected = httpx2.Request("GET", f"{BASE_URL}/balance", params=query).url
    assert seen[0].url == expected
    assert seen[0].url.raw_path == expected.raw_path


async def test_a_request_without_a_body_is_built_as_httpx2_builds_it() -> None:
    # A GET's headers are made once and copied: the request on the wire must be the one
    # httpx2 would build from the same parts (Host first, every header, no body).
    seen: list[httpx2.Request] = []
    async with (
        recording_client(seen, headers={"X-App": "one"}) as http,
        AsyncVoipano(TOKEN, http_client=http, retry=FAST) as client,
    ):
        await client.request("GET", "/call-reports", params={"page": 2, "limit": 5})
        await client.request("GET", "/call-reports", params={"page": 3})
    for request, query in zip(seen, ("page=2&limit=5", "page=3"), strict=True):
        expected = httpx2.Request(
            "GET",
            f"{BASE_URL}/call-reports?{query}",
            headers=[(k, v) for k, v in request.headers.raw if k.lower() != b"host"],
        )
        assert request.headers.raw == expected.headers.raw
        assert request.headers.raw[0] == (b"Host", expected.url.netloc)
        assert request.url == expected.url
        assert request.content == b""
        assert request.headers["X-App"] == "one"
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "Content-Length" not in request.headers


async def test_a_per_call_timeout_reaches_the_request_and_the_default_stays() -> None:
    seen: list[httpx2.Request] = []
    async with (
        recording_client(seen) as http,
        AsyncVoipano(TOKEN, http_client=http, retry=FAST, timeout=12.0) as client,
    ):
        await client.services(request_timeout=3.0)
        await client.services()
        await client.services()
    assert seen[0].extensions["timeout"]["read"] == 3.0
    assert seen[1].extensions["timeout"]["read"] == 12.0
    assert seen[1].extensions["timeout"] is not seen[2].extensions["timeout"]


async def test_a_tracer_provider_set_after_the_first_call_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    seen: list[httpx2.Request] = []
    async with (
        recording_client(seen) as http,
        AsyncVoipano(TOKEN, http_client=http, retry=FAST) as client,
    ):
        await client.services()  # no provider set: nothing is recorded
        assert spans.get_finished_spans() == ()
        # What trace.set_tracer_provider does, undone after the test (it sets it once
        # per process, for good).
        monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
        await client.services()
    provider.shutdown()
    assert [span.name for span in spans.get_finished_spans()] == ["voipano.services"]
