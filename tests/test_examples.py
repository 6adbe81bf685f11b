"""The programs in docs/examples, run against the sandbox the way their guides describe.

The guides in docs/guides include parts of this file (between the `--8<--` markers),
so what they show is what runs here. What they include stays within 88 columns, as all
the code shown in the docs does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import anyio
import fastapi.testclient
import httpx2
import pytest
from aiohttp.test_utils import TestClient, TestServer

from voipano_async import (
    APIConnectionError,
    APIError,
    AsyncVoipano,
    AuthenticationError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    VoipanoError,
)
from voipano_async.testing import Fault, VoipanoSandbox

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"


def load_example(name: str) -> ModuleType:
    """Import docs/examples/<name>.py (the folder is not a package) as `example_<name>`."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic look their module up here
    spec.loader.exec_module(module)
    return module


fastapi_app = load_example("fastapi_app")
aiohttp_app = load_example("aiohttp_app")
bot = load_example("bot")
harvest = load_example("harvest")

pytestmark = pytest.mark.anyio

# uvicorn (sandbox.serve()) and aiohttp run on asyncio only.
asyncio_only = pytest.mark.parametrize("anyio_backend", ["asyncio"])


# -- FastAPI ----------------------------------------------------------------------------


# --8<-- [start:fastapi-testclient]
def test_fastapi_testclient_runs_the_lifespan(
    monkeypatch: pytest.MonkeyPatch, voipano_sandbox: VoipanoSandbox
) -> None:
    client = voipano_sandbox.client()
    # The lifespan calls make_voipano(): make it return the sandbox's client.
    monkeypatch.setattr(fastapi_app, "make_voipano", lambda: client)
    app = fastapi_app.app

    with fastapi.testclient.TestClient(app) as http:  # start-up: the lifespan runs
        assert app.state.voipano is client
        answer = http.post("/otp", json={"phone": "0912 345 6789"})
        assert answer.status_code == 202
        assert answer.json()["phone"] == "09123***789"
    assert client.is_closed  # shutdown: the lifespan closed it

    [sent] = voipano_sandbox.requests
    assert sent.json == {"phone_number": "09123456789", "purpose": "login"}


# --8<-- [end:fastapi-testclient]


# --8<-- [start:fastapi-fixture]
@asynccontextmanager
async def fastapi_http(client: AsyncVoipano) -> AsyncIterator[httpx2.AsyncClient]:
    """Call the app in process, with `client` in place of the one its lifespan makes."""
    app = fastapi_app.app

    async def sandbox_client() -> AsyncVoipano:
        return client

    app.dependency_overrides[fastapi_app.get_voipano] = sandbox_client
    try:
        # ASGITransport does not run the lifespan: no real client, no token needed.
        transport = httpx2.ASGITransport(app=app)
        http = httpx2.AsyncClient(transport=transport, base_url="http://app")
        async with http:
            yield http
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
async def http(voipano_sandbox: VoipanoSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with voipano_sandbox.client() as client, fastapi_http(client) as http:
        yield http


# --8<-- [end:fastapi-fixture]


# --8<-- [start:fastapi-tests]
async def test_fastapi_sends_an_otp(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    answer = await http.post("/otp", json={"phone": "+98 912 345 6789"})

    assert answer.status_code == 202
    assert answer.json()["phone"] == "09123***789"
    [sent] = voipano_sandbox.requests
    assert sent.json == {"phone_number": "09123456789", "purpose": "login"}
    assert voipano_sandbox.credit == 10_000 - 160


async def test_fastapi_services_as_json(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    # A key the SDK does not model: kept in the result's `extra`, and by to_dict().
    voipano_sandbox.services[0]["auto_renew"] = True

    answer = await http.get("/services")

    assert answer.status_code == 200
    services = answer.json()
    assert services["items"] == voipano_sandbox.services  # as the service sent them
    assert services["items"][0]["auto_renew"] is True
    assert services["items"][0]["package"]["name"] == "پلن پیوند"
    assert services["total"] == 2


async def test_fastapi_bad_number_is_422_and_nothing_is_sent(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    answer = await http.post("/otp", json={"phone": "12345"})

    assert answer.status_code == 422
    assert answer.json()["may_have_been_placed"] is False
    assert voipano_sandbox.requests == []


async def test_fastapi_out_of_credit_is_503(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    voipano_sandbox.credit = 100  # an OTP costs 160

    answer = await http.post("/otp", json={"phone": "09123456789"})

    assert answer.status_code == 503
    assert answer.json()["may_have_been_placed"] is False
    assert [r.status for r in voipano_sandbox.requests] == [402]


async def test_fastapi_rate_limit_is_429_with_retry_after(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    # Over the SDK's 60 s cap, so it gives up at once instead of waiting.
    voipano_sandbox.faults.script("/call-otp", Fault.rate_limited(retry_after=120))

    answer = await http.post("/otp", json={"phone": "09123456789"})

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "120"
    assert len(voipano_sandbox.requests) == 1


async def test_fastapi_unknown_outcome_is_502_and_not_repeated(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    # The sandbox places and charges the call, then the connection breaks.
    voipano_sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))

    answer = await http.post("/otp", json={"phone": "09123456789"})

    assert answer.status_code == 502
    assert answer.json()["may_have_been_placed"] is True
    [sent] = voipano_sandbox.requests  # neither the SDK nor the app sent it again
    assert sent.acted  # the sandbox placed and charged it
    assert sent.status is None  # but no answer came back
    assert voipano_sandbox.credit == 10_000 - 160


async def test_fastapi_server_error_is_502(
    http: httpx2.AsyncClient, voipano_sandbox: VoipanoSandbox
) -> None:
    voipano_sandbox.faults.script("/call-otp", Fault.error(503))

    answer = await http.post("/otp", json={"phone": "09123456789"})

    assert answer.status_code == 502
    assert answer.json()["may_have_been_placed"] is True
    assert len(voipano_sandbox.requests) == 1


async def test_fastapi_timeout_is_504(voipano_sandbox: VoipanoSandbox) -> None:
    voipano_sandbox.faults.script("/call-otp", Fault.slow(5))

    async with (
        voipano_sandbox.client(timeout=0.05) as client,
        fastapi_http(client) as http,
    ):
        answer = await http.post("/otp", json={"phone": "09123456789"})

    assert answer.status_code == 504
    assert answer.json()["may_have_been_placed"] is True
    assert len(voipano_sandbox.requests) == 1


# --8<-- [end:fastapi-tests]


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        (RateLimitError("slow down", status_code=429, retry_after=2.5), 429, "3"),
        (RateLimitError("slow down", status_code=429), 429, "1"),
        (APIConnectionError("refused"), 502, None),
        (APIConnectionError("broke off", may_have_been_placed=True), 502, None),
        (AuthenticationError("bad token", status_code=401), 502, None),
        (APIError("conflict", status_code=409), 502, None),
        (
            UnexpectedResponseError("garbled", status_code=200, may_have_been_placed=True),
            502,
            None,
        ),
        (VoipanoError("this AsyncVoipano client is closed"), 502, None),
    ],
)
def test_error_responses(error: VoipanoError, status: int, retry_after: str | None) -> None:
    fastapi_answer = fastapi_app.error_response(error)
    aiohttp_answer = aiohttp_app.error_response(error)

    assert (fastapi_answer.status_code, aiohttp_answer.status) == (status, status)
    for answer in (fastapi_answer, aiohttp_answer):
        assert answer.headers.get("Retry-After") == retry_after
        body = json.loads(answer.body)
        assert body["may_have_been_placed"] is error.may_have_been_placed
        assert ("may have been placed" in body["detail"]) is error.may_have_been_placed


# --8<-- [start:fastapi-lifespan]
@asyncio_only
async def test_fastapi_lifespan_shares_one_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = VoipanoSandbox()
    app = fastapi_app.app
    async with sandbox.serve() as base_url:
        monkeypatch.setenv("VOIPANO_TOKEN", sandbox.token)
        monkeypatch.setenv("VOIPANO_BASE_URL", base_url)
        # Run the lifespan as a server would: start-up, requests, shutdown.
        async with app.router.lifespan_context(app):
            client = app.state.voipano
            assert client.base_url == base_url
            transport = httpx2.ASGITransport(app=app)
            http = httpx2.AsyncClient(transport=transport, base_url="http://app")
            async with http:
                for phone in ("09123456789", "09129876543"):
                    answer = await http.post("/otp", json={"phone": phone})
                    assert answer.status_code == 202
            assert app.state.voipano is client
        assert client.is_closed

    phones = [r.json["phone_number"] for r in sandbox.requests]
    assert phones == ["09123456789", "09129876543"]


# --8<-- [end:fastapi-lifespan]


# -- aiohttp ----------------------------------------------------------------------------


# --8<-- [start:aiohttp-tests]
@asynccontextmanager
async def aiohttp_http(sandbox: VoipanoSandbox) -> AsyncIterator[TestClient[Any, Any]]:
    """Run the app on aiohttp's test server, its client made by `sandbox.client`."""
    app = aiohttp_app.create_app(make_client=lambda session: sandbox.client())
    async with TestClient(TestServer(app)) as http:
        yield http


@asyncio_only
async def test_aiohttp_click_to_call(voipano_sandbox: VoipanoSandbox) -> None:
    async with aiohttp_http(voipano_sandbox) as http:
        client = http.app[aiohttp_app.VOIPANO]  # created at start-up
        answer = await http.post("/call", json={"phone": "0912 345 6789"})
        assert answer.status == 202
        assert (await answer.json())["status"] == "accepted"
        assert not client.is_closed
    assert client.is_closed  # closed at cleanup

    [sent] = voipano_sandbox.requests
    assert sent.json == {
        "call_source": "02191010001",
        "call_destination": "09123456789",
        "timeout": 30,
    }
    assert voipano_sandbox.credit == 10_000 - 80


@asyncio_only
async def test_aiohttp_refusals(voipano_sandbox: VoipanoSandbox) -> None:
    async with aiohttp_http(voipano_sandbox) as http:
        not_json = await http.post("/call", data="phone=0912")
        bad_number = await http.post("/call", json={"phone": "soon"})
        assert (not_json.status, bad_number.status) == (400, 422)
        assert voipano_sandbox.requests == []

        voipano_sandbox.credit = 10
        no_credit = await http.post("/call", json={"phone": "09123456789"})
        assert no_credit.status == 503
        assert (await no_credit.json())["may_have_been_placed"] is False


@asyncio_only
async def test_aiohttp_unknown_outcome_is_not_repeated(
    voipano_sandbox: VoipanoSandbox,
) -> None:
    voipano_sandbox.faults.script("/click-to-call", Fault.drop(after_acting=True))

    async with aiohttp_http(voipano_sandbox) as http:
        answer = await http.post("/call", json={"phone": "09123456789"})
        assert answer.status == 502
        assert (await answer.json())["may_have_been_placed"] is True

    assert len(voipano_sandbox.requests) == 1
    assert voipano_sandbox.credit == 10_000 - 80


@asyncio_only
async def test_aiohttp_default_client_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = VoipanoSandbox()
    async with sandbox.serve() as base_url:
        monkeypatch.setenv("VOIPANO_TOKEN", sandbox.token)
        monkeypatch.setenv("VOIPANO_BASE_URL", base_url)
        # Made as `python -m aiohttp.web aiohttp_app:create_app` makes it: argv first.
        app = aiohttp_app.create_app([])
        async with TestClient(TestServer(app)) as http:
            answer = await http.post("/call", json={"phone": "09123456789"})
            assert answer.status == 202
            assert http.app[aiohttp_app.VOIPANO].base_url == base_url

    assert [r.path for r in sandbox.requests] == ["/click-to-call"]


# --8<-- [end:aiohttp-tests]


# -- bot --------------------------------------------------------------------------------


# --8<-- [start:bot-tests]
class FakeMessage:
    """What the handler needs of an aiogram `Message`; keeps the replies."""

    def __init__(self, text: str, user_id: int = 42) -> None:
        self.text = text
        self.from_user = SimpleNamespace(id=user_id)
        self.replies: list[str] = []

    async def answer(self, text: str) -> None:
        self.replies.append(text)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def voipano(voipano_sandbox: VoipanoSandbox) -> AsyncIterator[AsyncVoipano]:
    async with voipano_sandbox.client() as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> Any:
    return bot.OtpLimiter(60, clock=clock)


async def login(
    voipano: AsyncVoipano,
    limiter: Any,
    text: str,
    user_id: int = 42,
) -> str:
    message = FakeMessage(text, user_id)
    await bot.handle_login(message, voipano, limiter)
    [reply] = message.replies
    return reply


async def test_bot_sends_a_code(
    voipano: AsyncVoipano, limiter: Any, voipano_sandbox: VoipanoSandbox
) -> None:
    reply = await login(voipano, limiter, "/login ۰۹۱۲ ۳۴۵ ۶۷۸۹")

    assert reply.startswith("Calling 09123***789 now")
    [sent] = voipano_sandbox.requests
    assert sent.json == {
        "phone_number": "09123456789",
        "purpose": "login",
        "client_ref": "bot-user-42",
    }


async def test_bot_one_code_per_user_per_minute(
    voipano: AsyncVoipano,
    limiter: Any,
    clock: FakeClock,
    voipano_sandbox: VoipanoSandbox,
) -> None:
    assert (await login(voipano, limiter, "/login 09123456789")).startswith("Calling")
    clock.now += 59
    assert await login(voipano, limiter, "/login 09123456789") == (
        "A code is on its way. You can ask again in 1 s."
    )
    assert len(voipano_sandbox.requests) == 1  # refused before reaching the service

    other = await login(voipano, limiter, "/login 09129876543", user_id=7)
    assert other.startswith("Calling")

    clock.now += 1
    assert (await login(voipano, limiter, "/login 09123456789")).startswith("Calling")
    assert len(voipano_sandbox.requests) == 3


async def test_bot_bad_number_sends_nothing(
    voipano: AsyncVoipano, limiter: Any, voipano_sandbox: VoipanoSandbox
) -> None:
    assert (await login(voipano, limiter, "/login tomorrow")).startswith(
        "That is not an Iranian phone number."
    )
    assert (await login(voipano, limiter, "/login")) == bot.USAGE
    assert voipano_sandbox.requests == []
    # Nothing went out, so the user may correct the number at once.
    assert (await login(voipano, limiter, "/login 09123456789")).startswith("Calling")


async def test_bot_out_of_credit(
    voipano: AsyncVoipano, limiter: Any, voipano_sandbox: VoipanoSandbox
) -> None:
    voipano_sandbox.credit = 100

    reply = await login(voipano, limiter, "/login 09123456789")

    assert reply == "Login codes are unavailable right now. Please try again later."
    assert [r.status for r in voipano_sandbox.requests] == [402]
    assert voipano_sandbox.credit == 100


async def test_bot_unknown_outcome_keeps_the_user_waiting(
    voipano: AsyncVoipano, limiter: Any, voipano_sandbox: VoipanoSandbox
) -> None:
    voipano_sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))

    assert (await login(voipano, limiter, "/login 09123456789")).startswith(
        "Your phone may be ringing already."
    )
    # The call may have gone out: a second /login within the minute is refused.
    again = await login(voipano, limiter, "/login 09123456789")
    assert again.startswith("A code is on its way")
    assert len(voipano_sandbox.requests) == 1


# --8<-- [end:bot-tests]


# -- harvest ----------------------------------------------------------------------------


# --8<-- [start:harvest-end-to-end]
def small_sandbox() -> VoipanoSandbox:
    sandbox = VoipanoSandbox(reports=40)
    sandbox.recording_seconds = 0.1
    return sandbox


def recorded(sandbox: VoipanoSandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.reports if r["has_recording"]]


def read_export(dest: Path) -> list[dict[str, Any]]:
    with (dest / "reports.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def recording_requests(sandbox: VoipanoSandbox) -> int:
    return sum(r.path.startswith("/call-recordings/") for r in sandbox.requests)


@asyncio_only
async def test_harvest_script_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = small_sandbox()
    dest = tmp_path / "harvest"
    async with sandbox.serve() as base_url:
        env = {"VOIPANO_TOKEN": sandbox.token, "VOIPANO_BASE_URL": base_url}
        # First run: the script as a user starts it, in its own process.
        script = [sys.executable, str(EXAMPLES / "harvest.py"), "--dest", str(dest)]
        done = await anyio.run_process(
            [*script, "--concurrency", "3"],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        wanted = recorded(sandbox)
        assert recording_requests(sandbox) == len(wanted)

        # Second run, through main(): everything is there already.
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert await harvest.main(["--dest", str(dest), "--concurrency", "3"]) == 0
        assert recording_requests(sandbox) == len(wanted)  # nothing downloaded again
        out = capsys.readouterr().out
        assert f"0 recordings downloaded, {len(wanted)} already there" in out

        # Third run, after losing one file: only that one is fetched again.
        lost = wanted[0]["call_details_record_id"]
        (dest / "recordings" / f"recording-{lost}.wav").unlink()
        assert await harvest.main(["--dest", str(dest)]) == 0
        assert recording_requests(sandbox) == len(wanted) + 1

    # The export holds the reports as the sandbox sent them.
    exported = read_export(dest)
    for line in exported:
        assert line.pop("recording_url").startswith(f"{base_url}/call-recordings/")
    assert exported == wanted
    # Each recording is a complete WAV file.
    for report in wanted:
        path = dest / "recordings" / f"recording-{report['call_details_record_id']}.wav"
        with wave.open(str(path)) as audio:
            assert audio.getnframes() == 800  # 0.1 s at 8 kHz


# --8<-- [end:harvest-end-to-end]


async def test_harvest_in_process(tmp_path: Path) -> None:
    sandbox = small_sandbox()
    async with sandbox.client() as client:
        first = await harvest.harvest(client, tmp_path, concurrency=3)
        again = await harvest.harvest(client, tmp_path, concurrency=3)

    wanted = recorded(sandbox)
    assert (first.reports, first.downloaded, first.skipped) == (len(wanted), len(wanted), 0)
    assert (again.reports, again.downloaded, again.skipped) == (len(wanted), 0, len(wanted))
    assert recording_requests(sandbox) == len(wanted)
    exported = read_export(tmp_path)
    assert [r["id"] for r in exported] == [r["id"] for r in wanted]
    # Keys the SDK does not model, kept in each report's `extra`, are exported too.
    assert all({"duration", "disposition", "started_at"} <= r.keys() for r in exported)
    assert sorted(p.name for p in (tmp_path / "recordings").iterdir()) == sorted(
        f"recording-{r['call_details_record_id']}.wav" for r in wanted
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recordings", "reports.jsonl"]


async def test_harvest_failed_downloads_are_fetched_by_the_next_run(tmp_path: Path) -> None:
    sandbox = small_sandbox()
    # Three answers of 500: every attempt the SDK makes for one recording.
    sandbox.faults.script("/call-recordings/*", *[Fault.error(500)] * 3)
    async with sandbox.client() as client:
        first = await harvest.harvest(client, tmp_path, concurrency=1)
        second = await harvest.harvest(client, tmp_path, concurrency=1)

    total = len(recorded(sandbox))
    assert (first.downloaded, len(first.failed)) == (total - 1, 1)
    assert (second.downloaded, second.skipped, second.failed) == (1, total - 1, [])
    files = list((tmp_path / "recordings").iterdir())
    assert len(files) == total  # and no partial file was left behind


async def test_harvest_failed_walk_keeps_the_previous_export(tmp_path: Path) -> None:
    sandbox = small_sandbox()
    async with sandbox.client() as client:
        await harvest.harvest(client, tmp_path)
        before = (tmp_path / "reports.jsonl").read_bytes()
        # Every attempt of every page of the first window fails.
        sandbox.faults.script("/call-reports", *[Fault.error(502)] * 40)
        with pytest.raises(ServerError):  # itself, not wrapped in an ExceptionGroup
            await harvest.harvest(client, tmp_path)

    assert (tmp_path / "reports.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recordings", "reports.jsonl"]


async def test_harvest_script_without_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await harvest.main(["--dest", str(tmp_path)]) == 1
    assert "VOIPANO_TOKEN" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
