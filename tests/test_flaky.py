"""Flaky links: an answer cut off in transit is retried on a free read, never on a charged
call, and a harvest resumes after one."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
import respx
from click.testing import CliRunner

from voipano_async import APIConnectionError, AsyncVoipano, UnexpectedResponseError
from voipano_async.cli._app import cli
from voipano_async.testing import Fault, VoipanoSandbox

from . import samples

pytestmark = pytest.mark.anyio

CUT_OFF = b'{"ok": true, "data": {"items": [{"subscription_id": 12, "sta'


async def test_a_free_read_cut_off_in_transit_is_tried_again(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.get("/services").mock(
        side_effect=[
            httpx2.Response(200, content=CUT_OFF),
            httpx2.Response(200, text="<html><body>proxy error</body></html>"),
            httpx2.Response(200, json=samples.SERVICES),
        ]
    )
    services = await client.services()
    assert services.total == 1
    assert services.meta.attempts == 3
    assert route.call_count == 3


async def test_a_free_read_cut_off_every_time_fails_with_its_attempts(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    api.get("/services").respond(200, content=CUT_OFF)
    with pytest.raises(UnexpectedResponseError) as info:
        await client.services()
    assert info.value.unreadable is True
    assert info.value.attempts == 3  # the first and max_retries=2 more
    assert info.value.may_have_been_placed is False


async def test_a_charged_call_cut_off_is_never_sent_again(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    route = api.post("/call-otp").respond(200, content=b'{"ok": true, "data": {"req')
    with pytest.raises(UnexpectedResponseError) as info:
        await client.call_otp("09123456789")
    assert route.call_count == 1
    assert info.value.may_have_been_placed is True
    assert info.value.attempts == 1
    assert client.spent == 160


async def test_an_answer_that_only_does_not_fit_is_not_tried_again(
    api: respx.MockRouter, client: AsyncVoipano
) -> None:
    answer = {**samples.SERVICES, "data": {**samples.SERVICES["data"], "total": "many"}}
    route = api.get("/services").respond(200, json=answer)
    with pytest.raises(UnexpectedResponseError) as info:
        await client.services()
    assert info.value.unreadable is False
    assert route.call_count == 1


def test_a_harvest_resumes_after_a_page_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = VoipanoSandbox(reports=30)
    monkeypatch.setattr("voipano_async.testing.VoipanoSandbox", lambda: sandbox)
    # The first page comes cut off; with no retries in the SDK, the walk resumes there.
    sandbox.faults.script("/call-reports", Fault.truncated())
    dest = tmp_path / "harvest"
    result = CliRunner().invoke(
        cli,
        ["--sandbox", "--max-retries", "0", "harvest", "--dest", str(dest), "--concurrency", "1"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "resum" in result.stderr
    lines = (dest / "reports.jsonl").read_text().splitlines()
    assert len(lines) == 30


async def test_every_error_names_its_request(api: respx.MockRouter, client: AsyncVoipano) -> None:
    api.get("/call-reports").respond(200, content=CUT_OFF)
    api.get("/services").mock(side_effect=httpx2.ReadError("reset by peer"))
    with pytest.raises(UnexpectedResponseError) as unreadable:
        await client.call_reports_page(3, per_page=10)
    with pytest.raises(APIConnectionError) as dropped:
        await client.with_options(max_retries=0).services()
    line = "GET /call-reports?page=3&limit=10"
    assert unreadable.value.request_line == line
    assert str(unreadable.value).endswith(f"({line})")
    assert dropped.value.request_line == "GET /services"
    assert str(dropped.value).count("GET /services") == 1  # named once, not twice
