"""The sandbox's PHP dialect: every endpoint, the pager, both clients and the CLI cope.

The dialect answers as a PHP/Laravel server drifts from the published samples, without
loss; read tolerantly, every result is the one the published dialect gives, with its
drift noted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from click.testing import CliRunner

from voipano_async import AsyncVoipano, UnexpectedResponseError
from voipano_async.cli._app import cli
from voipano_async.testing import VoipanoSandbox

from . import samples
from .test_cli import serve

pytestmark = pytest.mark.anyio


async def _every_endpoint(client: AsyncVoipano) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for endpoint in samples.ENDPOINTS:
        found[endpoint.name] = await endpoint.call(client)
    found["walk"] = [report async for report in client.call_reports(concurrency=4)]
    page = await client.call_reports_page(2, has_recording=True)
    async with client.stream_call_recording(page.items[0]) as audio:
        found["audio"] = (audio.filename, audio.charged, await audio.read())
    return found


async def test_every_endpoint_reads_alike_in_either_dialect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A placed call's report starts "now": both runs must see the same second.
    now = dt.datetime(2026, 12, 7, 12, 0, 0, tzinfo=dt.UTC)
    monkeypatch.setattr("voipano_async.testing._endpoints._utcnow", lambda: now)
    published, php = VoipanoSandbox(seed=7), VoipanoSandbox(seed=7, dialect="php")
    async with published.client() as client:
        exact = await _every_endpoint(client)
    async with php.client() as client:
        drifted = await _every_endpoint(client)
    assert drifted == exact
    assert php.credit == published.credit
    for endpoint in samples.ENDPOINTS:
        assert exact[endpoint.name].meta.drift == ()
        assert drifted[endpoint.name].meta.drift, endpoint.name  # and every reading noted


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # served by uvicorn: asyncio
async def test_the_php_dialect_is_what_it_says() -> None:
    sandbox = VoipanoSandbox(dialect="php", reports=12)
    async with sandbox.serve() as base_url, httpx2.AsyncClient(base_url=base_url) as http:
        auth = {"Authorization": f"Bearer {sandbox.token}"}
        page = (await http.get("/call-reports?page=1&limit=5", headers=auth)).json()
        services = (await http.get("/services", headers=auth)).json()
        inboxes = (await http.get("/voicemail-inboxes", headers=auth)).json()
        otp = await http.post("/call-otp", json={"phone_number": "09123456789"}, headers=auth)
        cdr = next(r for r in sandbox.reports if r["has_recording"])["call_details_record_id"]
        recording = await http.get(f"/call-recordings/{cdr}", headers=auth)
    assert page["data"]["pagination"] == {
        "page": "1",
        "per_page": "5",
        "total": "12",
        "last_page": 3.0,
    }
    assert {item["has_recording"] for item in page["data"]["items"]} <= {0, 1}
    assert page["billing"] == []
    assert services["data"]["items"][0]["subscription_id"] == "12"
    assert inboxes["data"]["items"][0]["mailbox"] == 1001
    assert otp.json()["billing"] == {
        "charged": "160.00",
        "unit_price": "160",
        "remaining_credit": "9840.00",
    }
    assert recording.headers["x-billing-charged"] == "0.00"
    name = f"recording-{cdr}.wav"
    disposition = f"attachment; filename={name}; filename*=utf-8''{name}"
    assert recording.headers["content-disposition"] == disposition


async def test_the_blocking_client_reads_the_php_dialect() -> None:
    sandbox = VoipanoSandbox(dialect="php")

    def use() -> tuple[Any, Any, int]:
        with sandbox.sync_client() as client:
            otp = client.call_otp("09123456789")
            services = client.services()
            walked = sum(1 for _ in client.call_reports())
        return otp, services, walked

    otp, services, walked = await anyio.to_thread.run_sync(use)
    assert otp.billing.charged == 160
    assert services.total == 2
    assert walked == len(sandbox.reports)


async def test_strict_responses_refuse_the_php_dialect() -> None:
    sandbox = VoipanoSandbox(dialect="php")
    async with sandbox.client(strict_responses=True) as client:
        with pytest.raises(UnexpectedResponseError, match="expected an integer, got a string"):
            await client.services()


def test_the_cli_harvest_is_the_same_in_either_dialect(tmp_path: Path) -> None:
    runner = CliRunner()
    for dialect in ("published", "php"):
        dest = tmp_path / dialect
        result = runner.invoke(
            cli,
            ["--sandbox", "--sandbox-dialect", dialect, "harvest", "--dest", str(dest)],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        drift_lines = [line for line in result.stderr.splitlines() if line.startswith("drift:")]
        assert bool(drift_lines) is (dialect == "php")
    published, php = tmp_path / "published", tmp_path / "php"
    assert (php / "reports.jsonl").read_bytes() == (published / "reports.jsonl").read_bytes()
    names = sorted(p.name for p in (published / "recordings").iterdir())
    assert sorted(p.name for p in (php / "recordings").iterdir()) == names
    for name in names:
        assert (php / "recordings" / name).read_bytes() == (
            published / "recordings" / name
        ).read_bytes()


def test_voipano_sandbox_serves_the_php_dialect() -> None:
    with serve("--dialect", "php", "--reports", "3") as url:
        answer = httpx2.get(f"{url}/services", headers={"Authorization": "Bearer sandbox-token"})
    assert answer.json()["billing"] == []


@pytest.mark.voipano_sandbox(dialect="php", credit=500)
async def test_the_fixture_takes_the_dialect_from_the_marker(
    voipano_sandbox: VoipanoSandbox, voipano_client: AsyncVoipano
) -> None:
    assert (voipano_sandbox.dialect, voipano_sandbox.credit) == ("php", 500)
    async with voipano_client as client:
        assert (await client.call_otp("09123456789")).meta.drift
    with pytest.raises(ValueError, match="dialect must be one of published, php"):
        VoipanoSandbox(dialect="perl")


def test_voipano_sandbox_takes_the_options_a_load_or_fault_test_needs() -> None:
    auth = {"Authorization": "Bearer sandbox-token"}
    with serve("--credit", "100", "--reports", "3") as url:
        refused = httpx2.post(
            f"{url}/call-otp", json={"phone_number": "09123456789"}, headers=auth
        )
    assert refused.status_code == 402  # 100 credit does not cover 160
    with serve("--fault-rate", "1", "--faults", "503", "--seed", "7") as url:
        failing = httpx2.get(f"{url}/services", headers=auth)
    assert failing.status_code == 503
    with serve("--rate-limit", "1") as url:
        statuses = [httpx2.get(f"{url}/services", headers=auth).status_code for _ in range(3)]
    assert 429 in statuses


def test_the_sandbox_fault_names_are_the_commands_to_offer() -> None:
    from voipano_async._config import SANDBOX_FAULTS
    from voipano_async.testing import FAULT_KINDS

    assert tuple(FAULT_KINDS) == SANDBOX_FAULTS
