"""The sandbox, in process: every endpoint with state, prices, errors and faults."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import wave
from pathlib import Path

import httpx2
import pytest

from voipano_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncVoipano,
    AuthenticationError,
    InsufficientCreditError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)
from voipano_async.testing import Fault, VoipanoSandbox
from voipano_async.testing._inprocess import IN_PROCESS_URL, InProcessTransport
from voipano_async.testing._vendor import SAMPLE_CDR_ID

from . import samples
from .conftest import FAST

pytestmark = pytest.mark.anyio


@pytest.fixture
def sandbox() -> VoipanoSandbox:
    return VoipanoSandbox()


@pytest.fixture
def client(sandbox: VoipanoSandbox) -> AsyncVoipano:
    return sandbox.client(retry=FAST)


# -- charged calls, credit and billing ----------------------------------------------------


async def test_charged_calls_deduct_the_published_prices(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    otp = await client.call_otp("+98 912 345 6789", purpose="login", client_ref="r-1")
    quick = await client.click_to_call("09123456789", "02191010001", timeout=30, limit=45)
    secure = await client.secure_call("09123456789", "09129876543", limit=30)

    assert (otp.billing.charged, otp.billing.unit_price, otp.billing.remaining_credit) == (
        160,
        160,
        9840,
    )
    assert (quick.billing.charged, quick.billing.remaining_credit) == (80, 9760)
    assert (secure.billing.charged, secure.billing.remaining_credit) == (120, 9640)
    assert sandbox.credit == 9640
    assert otp.phone_number == "09123***789"
    assert otp.message == "کد تایید ارسال شد."
    assert quick.provider is not None
    assert quick.provider.success is True
    assert secure.provider is None
    assert quick.status == secure.status == "accepted"
    assert [r.json for r in sandbox.requests] == [
        {"phone_number": "09123456789", "purpose": "login", "client_ref": "r-1"},
        {
            "call_source": "09123456789",
            "call_destination": "02191010001",
            "timeout": 30,
            "limit": 45,
        },
        {"call_source": "09123456789", "call_destination": "09129876543", "limit": 30},
    ]


async def test_credit_running_out(client: AsyncVoipano) -> None:
    sandbox = VoipanoSandbox(credit=400)
    client = sandbox.client()
    await client.call_otp("09123456789")
    await client.call_otp("09123456789")
    with pytest.raises(InsufficientCreditError) as info:
        await client.call_otp("09123456789")
    assert info.value.status_code == 402
    assert "اعتبار" in str(info.value)
    assert info.value.may_have_been_placed is False
    # A cheaper call still fits.
    assert (await client.click_to_call("09123456789", "09129876543")).billing.remaining_credit == 0
    assert sandbox.credit == 0
    assert [r.status for r in sandbox.requests] == [200, 200, 402, 200]


async def test_placed_calls_appear_in_the_reports(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    before = (await client.call_reports_page()).pagination.total
    await client.call_otp("09123456789", client_ref="ref-9")
    await client.secure_call("09123456789", "09129876543")

    page = await client.call_reports_page(per_page=2)

    assert page.pagination.total == before + 2
    newest, otp = page.items
    assert (newest.call_source, newest.call_destination) == ("09123***789", "09129***543")
    assert newest.has_recording
    assert otp.extra["client_ref"] == "ref-9"
    async with client.stream_call_recording(newest) as audio:
        content = await audio.read()
    with wave.open(io.BytesIO(content)) as recording:
        assert recording.getnframes() > 0


# -- reads ------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", samples.ENDPOINTS, ids=lambda e: e.name)
async def test_every_endpoint_answers_both_clients_as_the_vendor_does(
    sandbox: VoipanoSandbox, client: AsyncVoipano, endpoint: samples.Endpoint
) -> None:
    first = await endpoint.call(client)
    with sandbox.sync_client() as blocking:
        second = endpoint.call(blocking)

    for result in (first, second):
        assert type(result) is endpoint.result
        assert result.meta.status_code == 200
    price = endpoint.answer["billing"]["charged"]
    assert (first.billing.charged, second.billing.charged) == (price, price)
    assert sandbox.credit == 10_000 - 2 * price
    assert [(r.method, r.path) for r in sandbox.requests] == [(endpoint.method, endpoint.path)] * 2


async def test_reads(sandbox: VoipanoSandbox, client: AsyncVoipano) -> None:
    services = await client.services()
    assert services.total == len(services.items) == 2
    assert services.items[0].package is not None
    assert services.items[0].package.name == "پلن پیوند"

    inboxes = await client.voicemail_inboxes()
    assert {i.context for i in inboxes.items} <= set(inboxes.allowed_contexts)
    one = await client.voicemail_inboxes(context="voicemail-user-15", limit=5)
    assert [i.mailbox for i in one.items] == ["2001"]
    assert all(r.billing.charged == 0 for r in (services, inboxes, one))


async def test_call_reports_paging_and_filter(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    everything = [r.id async for r in client.call_reports(per_page=25, concurrency=4)]
    assert everything == [r["id"] for r in sandbox.reports]
    assert len(everything) == 300

    recorded = [r async for r in client.call_reports(has_recording=True, per_page=40)]
    assert recorded
    assert all(r.has_recording and r.recording_url for r in recorded)
    assert len(recorded) == sum(r["has_recording"] for r in sandbox.reports)
    assert recorded[0].extra["disposition"] == "ANSWERED"
    assert isinstance(recorded[0].extra["duration"], int)


async def test_seeded_data_is_deterministic() -> None:
    first, second, other = VoipanoSandbox(seed=3), VoipanoSandbox(seed=3), VoipanoSandbox(seed=4)
    assert first.reports == second.reports
    assert first.reports != other.reports
    assert len(VoipanoSandbox(reports=1000).reports) == 1000
    page = await first.client().call_reports_page(per_page=5)
    again = await second.client().call_reports_page(per_page=5)
    assert page == again


async def test_report_ids_grow_with_time_as_the_api_s_do() -> None:
    # The API's ids are MongoDB ObjectIds: the first 8 hex digits are the creation's seconds.
    sandbox = VoipanoSandbox(reports=50)
    async with sandbox.client() as client:
        await client.call_otp("09123456789")
        walked = [report async for report in client.call_reports()]
    for report in walked:
        started = dt.datetime.fromisoformat(report.extra["started_at"])
        assert re.fullmatch(r"[0-9a-f]{24}", report.id)
        if report.id != SAMPLE_CDR_ID:  # the vendor's published sample, kept as printed
            assert int(report.id[:8], 16) == int(started.timestamp())
    ids = [report.id for report in walked if report.id != SAMPLE_CDR_ID]
    assert ids == sorted(ids, reverse=True)  # newest first, as the API lists them


async def test_recordings_are_real_wav(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    report = next(r for r in sandbox.reports if r["has_recording"])
    path = await client.download_call_recording(report["call_details_record_id"], tmp_path)
    assert path.name == f"recording-{report['call_details_record_id']}.wav"
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == 16000

    message = sandbox.voicemail_messages[0]
    vm = await client.download_voicemail_recording(
        message.unique_id, tmp_path, context=message.context, mailbox=message.mailbox
    )
    assert vm.name == f"voicemail-{message.unique_id}.wav"
    with wave.open(str(vm)) as audio:
        assert audio.getnframes() > 0


# -- errors ----------------------------------------------------------------------------


async def test_wrong_token(sandbox: VoipanoSandbox) -> None:
    client = sandbox.client(token="wrong")
    with pytest.raises(AuthenticationError, match="توکن"):
        await client.services()
    with pytest.raises(AuthenticationError):
        await client.call_otp("09123456789")
    assert sandbox.credit == 10_000


async def test_invalid_phone_number_is_a_laravel_422(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    with pytest.raises(UnprocessableEntityError) as info:
        await client.call_otp("09123456789", extra_body={"phone_number": "12345"})
    assert info.value.errors == {"phone_number": ["شماره تلفن نامعتبر است."]}
    with pytest.raises(UnprocessableEntityError) as info:
        await client.click_to_call(
            "09123456789", "09129876543", extra_body={"call_source": "x", "timeout": -1}
        )
    assert set(info.value.errors) == {"call_source", "timeout"}
    assert sandbox.credit == 10_000


async def test_unknown_recordings_and_forbidden_contexts(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError):
        await client.download_call_recording("000000000000000000000000", tmp_path)
    unrecorded = next(r for r in sandbox.reports if not r["has_recording"])
    with pytest.raises(NotFoundError):
        await client.download_call_recording(unrecorded["call_details_record_id"], tmp_path)
    with pytest.raises(PermissionDeniedError, match="صندوق صوتی"):
        await client.voicemail_inboxes(context="voicemail-someone-else")
    message = sandbox.voicemail_messages[0]
    with pytest.raises(PermissionDeniedError):
        await client.download_voicemail_recording(
            message.unique_id, tmp_path, context="voicemail-someone-else", mailbox="1001"
        )
    with pytest.raises(NotFoundError):
        await client.download_voicemail_recording(
            "1.1", tmp_path, context=message.context, mailbox=message.mailbox
        )
    assert list(tmp_path.iterdir()) == []


async def test_rate_limit(sandbox: VoipanoSandbox) -> None:
    sandbox = VoipanoSandbox(rate_limit=2)
    client = sandbox.client(max_retries=0)
    await client.services()
    await client.services()
    with pytest.raises(RateLimitError) as info:
        await client.services()
    assert info.value.retry_after == 1.0


async def test_unknown_paths(sandbox: VoipanoSandbox) -> None:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox)) as http:
        missing = await http.get("http://s/api/v1/webservice/nothing")
        outside = await http.get("http://s/elsewhere")
        wrong_method = await http.get("http://s/api/v1/webservice/call-otp")
    assert (missing.status_code, outside.status_code, wrong_method.status_code) == (404, 404, 405)


# -- faults and the record of requests ------------------------------------------------------


async def test_scripted_faults_and_the_retry_rules(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    sandbox.faults.script("/services", Fault.error(503), Fault.html())
    sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))
    sandbox.faults.script("/click-to-call", Fault.rate_limited(0))
    sandbox.faults.script("/secure-call", Fault.error(500))

    assert (await client.services()).total == 2  # 503, 502 page, then success
    with pytest.raises(APIConnectionError) as dropped:
        await client.call_otp("09123456789")
    assert (await client.click_to_call("09123456789", "09129876543")).status == "accepted"
    with pytest.raises(ServerError):
        await client.secure_call("09123456789", "09129876543")

    assert dropped.value.may_have_been_placed
    assert [(r.path, r.status, r.acted, r.fault) for r in sandbox.requests] == [
        ("/services", 503, False, "503"),
        ("/services", 502, False, "html"),
        ("/services", 200, True, None),
        ("/call-otp", None, True, "drop-after"),
        ("/click-to-call", 429, False, "429"),
        ("/click-to-call", 200, True, None),
        ("/secure-call", 500, False, "500"),
    ]
    # The dropped OTP was charged once and not re-sent; the 429 was re-sent and charged once.
    assert sandbox.credit == 10_000 - 160 - 80


async def test_slow_answer_past_the_read_timeout(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    sandbox.faults.script("/secure-call", Fault.slow(5))
    with pytest.raises(APITimeoutError) as info:
        await client.secure_call("09123456789", "09129876543", request_timeout=0.05)
    assert info.value.may_have_been_placed
    [request] = sandbox.requests
    assert (request.acted, request.status, request.fault) == (True, None, "slow")
    assert sandbox.credit == 10_000 - 120


async def test_truncated_json(sandbox: VoipanoSandbox, client: AsyncVoipano) -> None:
    sandbox.faults.script("/call-otp", Fault.truncated())
    with pytest.raises(UnexpectedResponseError, match="not JSON") as info:
        await client.call_otp("09123456789")
    assert info.value.may_have_been_placed
    assert sandbox.credit == 10_000 - 160


async def test_wildcard_script_for_recordings(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    sandbox.faults.script("/call-recordings/*", Fault.error(404, {"ok": False, "message": "x"}))
    report = next(r for r in sandbox.reports if r["has_recording"])
    with pytest.raises(NotFoundError):
        await client.download_call_recording(report["id"], tmp_path)
    assert sandbox.faults.pending("/call-recordings/*") == 0
    await client.download_call_recording(report["id"], tmp_path)


async def test_random_faults_are_seeded() -> None:
    def run_statuses(seed: int) -> list[int | None]:
        return [r.status for r in sandboxes[seed].requests]

    sandboxes = {}
    for seed in (1, 1, 2):
        sandbox = VoipanoSandbox()
        sandbox.faults.random(0.5, seed=seed, kinds=["500", "503", "html"])
        client = sandbox.client(max_retries=0)
        for _ in range(40):
            with contextlib.suppress(ServerError):
                await client.services()
        if seed in sandboxes:
            assert run_statuses(seed) == [r.status for r in sandbox.requests]
        sandboxes[seed] = sandbox
    failed = [s for s in run_statuses(1) if s != 200]
    assert 8 < len(failed) < 32
    assert run_statuses(1) != run_statuses(2)


async def test_refused_requests_are_not_faulted_after_acting(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    sandbox = VoipanoSandbox(credit=0)
    sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))
    with pytest.raises(InsufficientCreditError):
        await sandbox.client().call_otp("09123456789")
    assert sandbox.requests[0].fault is None


async def test_requests_outside_the_api_are_recorded(sandbox: VoipanoSandbox) -> None:
    client = AsyncVoipano(
        sandbox.token,
        base_url="https://sandbox.voipano.invalid/api/v2",
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox)),
    )
    with pytest.raises(NotFoundError):
        await client.services()
    assert [(r.path, r.status) for r in sandbox.requests] == [("/api/v2/services", 404)]


async def test_every_answer_carries_its_request_id(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    services = await client.services()
    otp = await client.call_otp("09123456789")
    with pytest.raises(UnprocessableEntityError) as refused:
        await client.call_otp("09123456789", extra_body={"phone_number": "123"})

    ids = [r.request_id for r in sandbox.requests]
    assert len(set(ids)) == 3
    assert services.meta.request_id == ids[0]
    # The header names the HTTP request; the OTP's own id is the body's.
    assert otp.meta.request_id == ids[1] != otp.request_id
    assert refused.value.request_id == ids[2]
    # Seeded like the rest of the sandbox: the same ids on every run.
    again = VoipanoSandbox()
    await again.client().services()
    assert again.requests[0].request_id == ids[0]


async def test_a_recording_is_served_in_ranges_as_a_file_server_serves_it(
    sandbox: VoipanoSandbox,
) -> None:
    report = next(r for r in sandbox.reports if r["has_recording"])
    url = f"{IN_PROCESS_URL}/call-recordings/{report['id']}"
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    async with httpx2.AsyncClient(transport=InProcessTransport(sandbox)) as http:
        whole = await http.get(url, headers=auth)
        tag = whole.headers["etag"]
        rest = await http.get(url, headers={**auth, "Range": "bytes=100-", "If-Range": tag})
        stale = await http.get(url, headers={**auth, "Range": "bytes=100-", "If-Range": '"x"'})
        past = await http.get(url, headers={**auth, "Range": f"bytes={len(whole.content)}-"})

    size = len(whole.content)
    assert (whole.status_code, whole.headers["accept-ranges"]) == (200, "bytes")
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 100-{size - 1}/{size}"
    assert rest.content == whole.content[100:]
    # Another version named in If-Range: the whole file, as RFC 9110 says.
    assert (stale.status_code, stale.content) == (200, whole.content)
    assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{size}")


async def test_in_process_a_trickle_with_short_gaps_is_not_a_read_timeout(
    sandbox: VoipanoSandbox,
) -> None:
    # 20 gaps of 0.03 s, each shorter than the 0.2 s read timeout, as over a socket.
    sandbox.faults.script("/services", Fault.drip(0.6), Fault.slow(0.5))
    client = sandbox.client(timeout=0.2, deadline=None, max_retries=0)

    assert (await client.services()).total == 2
    with pytest.raises(APITimeoutError):
        await client.services()
