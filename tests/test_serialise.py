"""Results go where users send them: ``to_dict()`` is JSON-ready under the server's names,
with ``extra`` kept and ``meta`` left out, and ``to_json()`` is that as text."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from voipano_async import AsyncVoipano, CallReport, ResponseMeta, VoicemailInbox
from voipano_async._converter import structure
from voipano_async.testing import VoipanoSandbox

from . import samples

pytestmark = pytest.mark.anyio

JSON_TYPES = (str, int, float, bool, type(None))


def json_ready(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_ready(v) for k, v in value.items())
    if isinstance(value, list):
        return all(json_ready(v) for v in value)
    return type(value) in JSON_TYPES


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


@pytest.mark.parametrize("endpoint", samples.ENDPOINTS, ids=lambda e: e.name)
async def test_a_result_gives_back_what_the_server_said(
    api: respx.MockRouter, client: AsyncVoipano, endpoint: samples.Endpoint
) -> None:
    api.route(method=endpoint.method, path__regex=f"{endpoint.path}$").respond(
        200, json=endpoint.answer, headers={"X-Request-Id": "req-1"}
    )
    result = await endpoint.call(client)

    data = result.to_dict()
    # The published answer's data, key for key, with the envelope's billing beside it;
    # a modelled field the answer did not send is there as None.
    expected = {**endpoint.answer["data"], "billing": endpoint.answer["billing"]}
    assert without_none(data) == without_none(expected)
    assert set(expected) <= set(data)
    assert json_ready(data)
    assert "meta" not in data
    assert "req-1" not in result.to_json()
    assert json.loads(result.to_json()) == data
    # What to_dict gives, the model reads back as the same value.
    assert structure(data, type(result)) == result


async def test_keys_the_sdk_does_not_model_are_kept_after_the_modelled_ones() -> None:
    report = structure(
        {
            **samples.report(1),
            "duration": 42,
            "started_at": "2026-12-01T08:00:00Z",
            "tags": ["vip", {"by": "agent-7"}],
        },
        CallReport,
    )
    data = report.to_dict()
    assert list(data)[:6] == [
        "id",
        "call_details_record_id",
        "call_source",
        "call_destination",
        "has_recording",
        "recording_url",
    ]
    assert data["duration"] == 42
    assert data["tags"] == ["vip", {"by": "agent-7"}]
    assert json_ready(data)


def test_to_json_keeps_persian_readable_and_can_be_one_line() -> None:
    inbox = VoicemailInbox(
        id="7", mailbox="1001", context="voicemail-02191010001", fullname="پشتیبانی"
    )
    assert '"fullname": "پشتیبانی"' in inbox.to_json()
    assert "\n" not in inbox.to_json(indent=None)
    assert inbox.to_json().startswith('{\n  "id": "7",\n  "mailbox"')


async def test_every_result_from_the_sandbox_serialises(tmp_path: Any) -> None:
    sandbox = VoipanoSandbox(reports=30)
    async with sandbox.client() as client:
        results: list[Any] = [
            await client.call_otp("09123456789"),
            await client.click_to_call("09123456789", "02191010001"),
            await client.secure_call("09123456789", "09129876543"),
            await client.services(),
            await client.voicemail_inboxes(),
            await client.call_reports_page(1, per_page=10),
        ]
        results += [report async for report in client.call_reports()]
    for result in results:
        text = json.dumps(result.to_dict(), ensure_ascii=False)
        assert json.loads(text) == json.loads(result.to_json())
        assert structure(result.to_dict(), type(result)) == result


def test_meta_serialises_on_its_own() -> None:
    meta = ResponseMeta(
        status_code=200,
        headers={"X-Request-Id": "r-9"},
        request_id="r-9",
        attempts=2,
        elapsed=0.25,
        drift=('$.billing.charged: "160" read as 160',),
    )
    assert meta.to_dict() == {
        "status_code": 200,
        "headers": {"X-Request-Id": "r-9"},
        "request_id": "r-9",
        "attempts": 2,
        "elapsed": 0.25,
        "drift": ['$.billing.charged: "160" read as 160'],
    }
