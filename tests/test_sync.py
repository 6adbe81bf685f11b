"""The blocking client: the same behaviour as AsyncVoipano, from plain threads."""

from __future__ import annotations

import importlib.util
import inspect
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import anyio
import httpx2
import pytest
import respx

from voipano_async import (
    APIConnectionError,
    AsyncVoipano,
    AudioStreamSync,
    CallReportIterator,
    InsufficientCreditError,
    InvalidPhoneNumberError,
    ServerError,
    Voipano,
    VoipanoError,
)
from voipano_async.testing import Fault, VoipanoSandbox

from . import samples
from .conftest import BASE_URL


@pytest.fixture
def sandbox() -> VoipanoSandbox:
    return VoipanoSandbox()


@pytest.fixture
def client(sandbox: VoipanoSandbox):  # type: ignore[no-untyped-def]
    with sandbox.sync_client() as client:
        yield client


def test_every_endpoint(sandbox: VoipanoSandbox, client: Voipano, tmp_path: Path) -> None:
    otp = client.call_otp("+98 912 345 6789", purpose="login", client_ref="r1")
    quick = client.click_to_call("09123456789", "02191010001", timeout=30, limit=45)
    secure = client.secure_call("09123456789", "09129876543")
    assert (otp.billing.charged, quick.billing.charged, secure.billing.charged) == (160, 80, 120)
    assert sandbox.credit == 10_000 - 360

    assert client.services().total == 2
    inboxes = client.voicemail_inboxes(context="voicemail-02191010001", limit=5)
    assert [i.mailbox for i in inboxes.items] == ["1001", "1002"]
    page = client.call_reports_page(2, per_page=7, has_recording=True)
    assert (page.pagination.page, len(page.items)) == (2, 7)

    report = page.items[0]
    path = client.download_call_recording(report, tmp_path)
    with wave.open(str(path)) as audio:
        assert audio.getnframes() == 16000
    message = sandbox.voicemail_messages[0]
    vm = client.download_voicemail_recording(
        message.unique_id, tmp_path, context=message.context, mailbox=message.mailbox
    )
    assert vm.name == f"voicemail-{message.unique_id}.wav"

    with client.stream_call_recording(report.call_details_record_id) as audio:
        assert isinstance(audio, AudioStreamSync)
        assert audio.content_type == "audio/wav"
        assert b"".join(audio.iter_bytes()) == path.read_bytes()
    with client.stream_voicemail_recording(
        message.unique_id, context=message.context, mailbox=message.mailbox
    ) as audio:
        assert audio.read() == vm.read_bytes()


def test_paging(sandbox: VoipanoSandbox, client: Voipano) -> None:
    reports = client.call_reports(per_page=25, concurrency=4)
    assert isinstance(reports, CallReportIterator)
    assert [r.id for r in reports] == [r["id"] for r in sandbox.reports]
    assert [p.pagination.page for p in reports.pages()] == list(range(1, 13))
    first = []
    for report in client.call_reports(max_items=1000):
        first.append(report.id)
        if len(first) == 3:
            break
    assert first == [r["id"] for r in sandbox.reports[:3]]
    assert client.services().total == 2  # usable after an early break


def test_errors_and_retries(sandbox: VoipanoSandbox, client: Voipano) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        client.call_otp("12345")
    sandbox.faults.script("/services", Fault.error(503))
    assert client.services().total == 2
    sandbox.faults.script("/call-otp", Fault.drop(after_acting=True))
    with pytest.raises(APIConnectionError) as info:
        client.call_otp("09123456789")
    assert info.value.may_have_been_placed
    assert [r.path for r in sandbox.requests] == ["/services", "/services", "/call-otp"]
    sandbox.credit = 0
    with pytest.raises(InsufficientCreditError):
        client.secure_call("09123456789", "09129876543")


def test_with_respx() -> None:
    with respx.mock(base_url=BASE_URL) as api:
        route = api.get("/services").mock(
            side_effect=[httpx2.Response(502), httpx2.Response(200, json=samples.SERVICES)]
        )
        otp = api.post("/call-otp").respond(500, json={"ok": False, "message": "x"})
        with Voipano("t0ken-abcdefgh") as client:
            assert client.services().total == 1
            with pytest.raises(ServerError):
                client.call_otp("09123456789")
    assert route.call_count == 2
    assert otp.call_count == 1


def test_many_threads_share_one_client(sandbox: VoipanoSandbox, client: Voipano) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                results.append(client.services().total)
            client.call_otp("09123456789")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert results == [2] * 80
    assert sandbox.credit == 10_000 - 8 * 160


def test_inside_a_running_event_loop(sandbox: VoipanoSandbox) -> None:
    """As in a Jupyter cell: the calling thread already runs an event loop."""

    async def notebook_cell() -> int:
        with sandbox.sync_client() as client:
            return client.services().total

    assert anyio.run(notebook_cell) == 2
    assert anyio.run(notebook_cell, backend="trio") == 2


def test_ctrl_c_cancels_the_request_and_leaves_the_client_usable(
    sandbox: VoipanoSandbox, client: Voipano
) -> None:
    sandbox.latency = 60
    # Were the interrupt not to cancel the call, it would end in APITimeoutError instead.
    impatient = client.with_options(timeout=10, max_retries=0)

    def press_ctrl_c() -> None:
        while not sandbox.requests:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    with pytest.raises(KeyboardInterrupt):
        impatient.services()
    presser.join()
    sandbox.latency = 0
    assert client.services().total == 2
    assert [(r.status, r.acted) for r in sandbox.requests] == [(None, False), (200, True)]


def test_close(sandbox: VoipanoSandbox) -> None:
    client = sandbox.sync_client()
    patient = client.with_options(timeout=60, max_retries=5)
    assert (patient.timeout.read, patient.max_retries) == (60, 5)
    assert patient.services().total == 2
    client.close()
    client.close()
    assert client.is_closed
    assert patient.is_closed
    with pytest.raises(VoipanoError, match="closed"):
        client.services()
    with pytest.raises(VoipanoError, match="closed"):
        patient.services()
    assert "sandbox-token" not in repr(client)


def _parameters(method: object) -> list[tuple[str, object, object, object]]:
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in inspect.signature(method).parameters.values()  # type: ignore[arg-type]
    ]


def test_the_two_clients_have_the_same_methods_and_signatures() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}

    renamed = {"aclose": "close"}
    assert {renamed.get(n, n) for n in public(AsyncVoipano)} == public(Voipano)
    for name in public(AsyncVoipano):
        sync_name = renamed.get(name, name)
        assert _parameters(getattr(AsyncVoipano, name)) == _parameters(
            getattr(Voipano, sync_name)
        ), name
    assert _parameters(AsyncVoipano.__init__) == _parameters(Voipano.__init__)
    for prop in ("base_url", "max_retries", "retry", "timeout", "spent", "is_closed"):
        assert isinstance(getattr(Voipano, prop), property)


SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "blocking_client.py"


def test_the_blocking_clients_endpoint_lines_are_up_to_date() -> None:
    # A new, renamed or removed AsyncVoipano endpoint fails here until the script is run.
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_script_writes_a_new_endpoints_line_and_drops_a_removed_ones() -> None:
    spec = importlib.util.spec_from_file_location("blocking_client", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    current = script.TARGET.read_text(encoding="utf-8")
    line = "    services: Final = blocking(AsyncVoipano.services)\n"
    gone = "    retired: Final = blocking(AsyncVoipano.retired)\n"
    assert line in current
    stale = current.replace(line, gone)
    assert script.render(stale) == current
    with pytest.raises(SystemExit, match="marker comments are missing"):
        script.render(current.replace(script.END, ""))


def test_an_endpoint_returning_an_async_object_without_a_blocking_form_fails_at_import() -> None:
    from voipano_async._sync import blocking

    def watch_calls(self: AsyncVoipano) -> CallWatcher:  # noqa: F821
        raise NotImplementedError

    with pytest.raises(TypeError, match=r"no blocking form for .*watch_calls.*CallWatcher"):
        blocking(watch_calls)


def test_help_shows_each_blocking_method_with_its_parameters_and_what_it_returns() -> None:
    import pydoc

    text = pydoc.render_doc(Voipano, renderer=pydoc.plaintext)
    # Python 3.13 writes a long signature one parameter a line: compare words, not lines.
    body = "\n".join(line.removeprefix(" |") for line in text.splitlines())
    words = " ".join(body.replace("(", "( ").split())
    assert "call_otp( self, phone_number: 'str', *, purpose: 'str | None' = None" in words
    assert "-> 'CallReportIterator'" in words
    assert "cdr_id: 'str | CallReport'" in words
    assert "The blocking form of [`AsyncVoipano.secure_call`]" in text
    assert "<function" not in text
    assert "object at 0x" not in text
    client = Voipano("token-0123456789")
    try:
        returns = {
            name: inspect.signature(getattr(client, name)).return_annotation
            for name in ("services", "call_reports", "stream_call_recording", "with_options")
        }
        assert returns == {
            "services": "ServiceList",
            "call_reports": "CallReportIterator",
            "stream_call_recording": "StreamContextSync",
            "with_options": "Voipano",
        }
        assert client.services.__qualname__ == "Voipano.services"
        assert client.services.__module__ == "voipano_async._voipano"
        assert "self" not in inspect.signature(client.services).parameters
    finally:
        client.close()


def test_a_blocking_method_called_on_the_class_takes_the_client_first(
    sandbox: VoipanoSandbox,
) -> None:
    with sandbox.sync_client() as client:
        assert Voipano.services(client).total == 2
        copy = Voipano.with_options(client, max_retries=0)
        assert isinstance(copy, Voipano)
        assert copy.max_retries == 0


# -- a client that is never closed must not keep the process alive ---------------------------

EXIT_SCRIPTS = {
    "after a call": """
from voipano_async.testing import VoipanoSandbox
client = VoipanoSandbox().sync_client()
print(client.services().total)
""",
    "no request made": """
from voipano_async import Voipano
client = Voipano("token-0123456789")
print("made")
""",
    "uncaught exception": """
from voipano_async.testing import VoipanoSandbox
client = VoipanoSandbox().sync_client()
client.services()
raise SystemExit("boom")
""",
    "real sockets, connection kept alive": """
import anyio, threading
from voipano_async import Voipano
from voipano_async.testing import VoipanoSandbox

sandbox = VoipanoSandbox()
ready = threading.Event()
urls = []

async def serve():
    async with sandbox.serve() as url:
        urls.append(url)
        ready.set()
        await anyio.sleep_forever()

threading.Thread(target=anyio.run, args=(serve,), daemon=True).start()
ready.wait(30)
client = Voipano(sandbox.token, base_url=urls[0])
print(client.services().total)
""",
}


@pytest.mark.parametrize("case", list(EXIT_SCRIPTS))
def test_a_never_closed_client_lets_the_process_exit(case: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", EXIT_SCRIPTS[case]],
        capture_output=True,
        text=True,
        timeout=60,  # today's failure mode is a hang: the timeout turns it into an error
        cwd=tmp_path,
    )

    expected = {"after a call": "2", "no request made": "made"}
    if case == "uncaught exception":
        assert result.returncode == 1
        assert result.stderr.strip() == "boom"
    else:
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert result.stdout.strip() == expected.get(case, "2")
