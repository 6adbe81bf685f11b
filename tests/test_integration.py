"""The SDK against the sandbox over real sockets (uvicorn on loopback; asyncio)."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from voipano_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncVoipano,
    InsufficientCreditError,
    PermissionDeniedError,
    ServerError,
)
from voipano_async.testing import Fault, VoipanoSandbox

from .conftest import FAST

pytestmark = [pytest.mark.anyio, pytest.mark.sockets]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn serves on asyncio only


@pytest.fixture
def sandbox() -> VoipanoSandbox:
    return VoipanoSandbox(reports=450)


@pytest.fixture
async def client(sandbox: VoipanoSandbox) -> AsyncIterator[AsyncVoipano]:
    async with sandbox.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/api/v1/webservice")
        async with AsyncVoipano(sandbox.token, base_url=base_url, timeout=5, retry=FAST) as client:
            yield client


async def test_every_endpoint(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    otp = await client.call_otp("۰۹۱۲ ۳۴۵ ۶۷۸۹", purpose="login")
    quick = await client.click_to_call("09123456789", "02191010001", timeout=30, limit=45)
    secure = await client.secure_call("09123456789", "09129876543")
    services = await client.services()
    inboxes = await client.voicemail_inboxes(context="voicemail-02191010001")
    page = await client.call_reports_page(1, per_page=10, has_recording=True)

    assert otp.billing.remaining_credit == 9840
    assert quick.billing.remaining_credit == 9760
    assert secure.billing.remaining_credit == 9640
    assert services.total == 2
    assert [i.mailbox for i in inboxes.items] == ["1001", "1002"]
    assert len(page.items) == 10
    # The report's recording_url points at the server we talk to.
    assert page.items[0].recording_url is not None
    assert page.items[0].recording_url.startswith(client.base_url)

    recording = await client.download_call_recording(page.items[0], tmp_path)
    message = sandbox.voicemail_messages[0]
    voicemail = await client.download_voicemail_recording(
        message.unique_id, tmp_path, context=message.context, mailbox=message.mailbox
    )
    for path in (recording, voicemail):
        with wave.open(str(path)) as audio:
            assert audio.getnframes() == 16000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([recording.name, voicemail.name])


async def test_full_walk_with_concurrency(sandbox: VoipanoSandbox, client: AsyncVoipano) -> None:
    walked = [r.id async for r in client.call_reports(per_page=20, concurrency=6)]
    assert walked == [r["id"] for r in sandbox.reports]
    assert len(walked) == 450
    pages = [p.pagination.page async for p in client.call_reports(per_page=100).pages()]
    assert pages == [1, 2, 3, 4, 5]


async def test_concurrent_downloads(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    reports = [r async for r in client.call_reports(has_recording=True, max_items=30)]

    async with anyio.create_task_group() as tg:
        for report in reports:
            tg.start_soon(client.download_call_recording, report, tmp_path)

    files = sorted(tmp_path.iterdir())
    assert len(files) == 30
    for path in files:
        with wave.open(str(path)) as audio:
            assert audio.getframerate() == 8000


async def test_credit_running_out_mid_run(sandbox: VoipanoSandbox, client: AsyncVoipano) -> None:
    sandbox.credit = 1000
    outcomes = []
    for _ in range(10):
        try:
            await client.call_otp("09123456789")
            outcomes.append("placed")
        except InsufficientCreditError as error:
            outcomes.append(f"refused, placed={error.may_have_been_placed}")
    assert outcomes == ["placed"] * 6 + ["refused, placed=False"] * 4
    assert sandbox.credit == 40


async def test_retry_rules_under_injected_faults(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    sandbox.faults.script("/services", Fault.drop(), Fault.error(502))
    sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))
    sandbox.faults.script("/secure-call", Fault.error(503))
    sandbox.faults.script("/click-to-call", Fault.rate_limited(0))

    assert (await client.services()).total == 2
    with pytest.raises(APIConnectionError) as dropped:
        await client.call_otp("09123456789")
    with pytest.raises(ServerError):
        await client.secure_call("09123456789", "09129876543")
    await client.click_to_call("09123456789", "09129876543")

    by_path: dict[str, list[tuple[int | None, bool]]] = {}
    for request in sandbox.requests:
        by_path.setdefault(request.path, []).append((request.status, request.acted))
    assert by_path == {
        "/services": [(None, False), (502, False), (200, True)],
        "/call-otp": [(None, True)],
        "/secure-call": [(503, False)],
        "/click-to-call": [(429, False), (200, True)],
    }
    assert dropped.value.may_have_been_placed
    assert sandbox.credit == 10_000 - 160 - 80


async def test_slow_answer_times_out_on_a_real_socket(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    sandbox.faults.script("/call-otp", Fault.slow(3))
    with pytest.raises(APIConnectionError, match="may have been placed"):
        await client.call_otp("09123456789", request_timeout=0.2)
    assert [r.path for r in sandbox.requests] == ["/call-otp"]
    # The pool recovers: the next call goes through at once.
    assert (await client.services()).total == 2


async def test_forbidden_context(client: AsyncVoipano) -> None:
    with pytest.raises(PermissionDeniedError):
        await client.voicemail_inboxes(context="voicemail-not-mine")


async def test_a_download_broken_off_midway_resumes_where_it_stopped(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    report = next(r for r in sandbox.reports if r["has_recording"])
    sandbox.faults.script(f"/call-recordings/{report['id']}", Fault.truncated())

    async with client.stream_call_recording(report["id"]) as audio:
        whole = await audio.read()
        attempts = audio.meta.attempts

    assert attempts == 2
    assert [(r.fault, r.status) for r in sandbox.requests] == [("truncated", 200), (None, 206)]
    # The second request asked for the rest only, and the bytes join up exactly.
    async with client.stream_call_recording(report["id"]) as again:
        assert whole == await again.read()
    with wave.open(str(await client.download_call_recording(report["id"], tmp_path))) as w:
        assert w.getnframes() == 16000


async def test_a_download_that_keeps_breaking_off_leaves_no_file(
    sandbox: VoipanoSandbox, client: AsyncVoipano, tmp_path: Path
) -> None:
    report = next(r for r in sandbox.reports if r["has_recording"])
    sandbox.faults.script(f"/call-recordings/{report['id']}", *[Fault.truncated()] * 3)

    with pytest.raises(APIConnectionError, match="broke off") as info:
        await client.download_call_recording(report["id"], tmp_path)

    assert list(tmp_path.iterdir()) == []
    # The policy's three attempts, each named in the error.
    assert info.value.attempts == 3
    assert info.value.request_line is not None
    assert info.value.request_line.startswith(f"GET /call-recordings/{report['id']}")
    assert [r.fault for r in sandbox.requests] == ["truncated"] * 3
    path = await client.download_call_recording(report["id"], tmp_path)
    with wave.open(str(path)) as w:
        assert w.getnframes() == 16000


async def test_a_dripped_answer_ends_at_the_deadline(sandbox: VoipanoSandbox) -> None:
    sandbox.faults.script("/call-otp", Fault.drip(3.0))
    async with sandbox.serve() as base_url:
        client = AsyncVoipano(sandbox.token, base_url=base_url, timeout=1.0, deadline=0.6)
        async with client:
            with anyio.fail_after(10), pytest.raises(APITimeoutError) as info:
                await client.call_otp("09123456789")
            # Every gap (0.15 s) is shorter than the read timeout: only the deadline ends it.
            assert "deadline exceeded" in str(info.value)
            assert info.value.may_have_been_placed
            assert client.spent == 160
            # The next call is answered as usual: nothing was left half-read.
            assert (await client.services()).total == 2

    placed = [r for r in sandbox.requests if r.path == "/call-otp"]
    assert [(r.acted, r.fault) for r in placed] == [(True, "drip")]


async def test_the_sandbox_counts_requests_in_flight(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    sandbox.latency = 0.2

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(client.services)
        with anyio.fail_after(5):
            while sandbox.in_flight < 5:  # noqa: ASYNC110
                await anyio.sleep(0.01)

    assert sandbox.in_flight == 0
    assert sandbox.most_in_flight == 5
    sandbox.most_in_flight = 0
    await client.services()
    assert sandbox.most_in_flight == 1


async def test_an_error_s_response_holds_the_body_it_was_read_from(
    sandbox: VoipanoSandbox, client: AsyncVoipano
) -> None:
    # Answers are read straight from the socket's stream; the response an error hands
    # back still has the body, whether it came with ok: false on a 200 or on a 4xx.
    refusal = {"ok": False, "message": "اعتبار کافی نیست", "code": "insufficient_credit"}
    sandbox.faults.script("/services", Fault.error(200, refusal), Fault.error(422, refusal))
    for status in (200, 422):
        with pytest.raises(APIError) as caught:
            await client.services()
        response = caught.value.response
        assert response is not None
        assert response.status_code == status
        assert response.json() == refusal
        assert "اعتبار کافی نیست" in response.text
