"""The SDK on httpx2: a caller's own client, refused look-alikes, and TLS trust."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs
import httpx2
import pytest
import trustme
from click.testing import CliRunner

from voipano_async import APIConnectionError, APITimeoutError, AsyncVoipano, Voipano
from voipano_async.cli._app import cli
from voipano_async.testing import VoipanoSandbox

from . import samples
from .conftest import FAST
from .loopback import head, serve

pytestmark = pytest.mark.anyio

SERVICES_BODY = json.dumps(samples.SERVICES).encode()


async def _answer_services(request: str, stream: anyio.abc.SocketStream) -> None:
    await stream.send(head(200, {"Content-Type": "application/json"}, length=len(SERVICES_BODY)))
    await stream.send(SERVICES_BODY)


# -- a caller's httpx2.AsyncClient, against real sockets ------------------------------------


class TestCallersClient:
    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"  # the served sandbox (uvicorn) runs on asyncio only

    async def test_every_endpoint_through_a_callers_httpx2_client(self, tmp_path: Path) -> None:
        sandbox = VoipanoSandbox(reports=30)
        async with sandbox.serve() as base_url, httpx2.AsyncClient() as http:
            client = AsyncVoipano(sandbox.token, base_url=base_url, http_client=http)
            async with client:
                with anyio.fail_after(30):
                    otp = await client.call_otp("09123456789", purpose="login")
                    quick = await client.click_to_call("09123456789", "02191010001")
                    secure = await client.secure_call("09123456789", "09129876543")
                    services = await client.services()
                    inboxes = await client.voicemail_inboxes()
                    page = await client.call_reports_page(1, per_page=10)
                    walked = [report async for report in client.call_reports(per_page=7)]
                    recorded = next(r for r in walked if r.has_recording)
                    path = await client.download_call_recording(recorded, tmp_path)
                    message = sandbox.voicemail_messages[0]
                    voicemail = await client.download_voicemail_recording(
                        message.unique_id,
                        tmp_path / "vm.wav",
                        context=message.context,
                        mailbox=message.mailbox,
                    )
            # Ours to close, not the SDK's.
            assert not http.is_closed

        assert otp.billing.charged == 160
        assert quick.billing.charged == 80
        assert secure.billing.charged == 120
        assert services.total == 2
        assert inboxes.items
        assert len(page.items) == 10
        assert len(walked) == len(sandbox.reports) == 33  # 30 seeded, 3 calls placed
        assert path.read_bytes()[:4] == b"RIFF"
        assert voicemail.read_bytes()[:4] == b"RIFF"

    async def test_a_charged_call_that_times_out_is_typed_marked_and_sent_once(self) -> None:
        async def never_answers(request: str, stream: anyio.abc.SocketStream) -> None:
            await anyio.sleep_forever()

        async with serve(never_answers) as (url, received), httpx2.AsyncClient() as http:
            client = AsyncVoipano(
                "token-0123456789", base_url=f"{url}/api", http_client=http, timeout=0.3
            )
            with anyio.fail_after(10), pytest.raises(APITimeoutError) as info:
                await client.call_otp("09123456789")

        assert info.value.may_have_been_placed
        assert len(received) == 1
        assert received[0].startswith("POST /api/call-otp ")

    async def test_a_free_call_that_times_out_is_retried_through_a_callers_client(self) -> None:
        async def never_answers(request: str, stream: anyio.abc.SocketStream) -> None:
            await anyio.sleep_forever()

        async with serve(never_answers) as (url, received), httpx2.AsyncClient() as http:
            client = AsyncVoipano(
                "token-0123456789",
                base_url=f"{url}/api",
                http_client=http,
                timeout=0.2,
                retry=attrs.evolve(FAST, max_retries=1),
            )
            with anyio.fail_after(10), pytest.raises(APITimeoutError):
                await client.services()

        assert len(received) == 2


# -- what is refused, and what it says --------------------------------------------------------


def test_a_blocking_httpx2_client_is_refused() -> None:
    with httpx2.Client() as blocking, pytest.raises(TypeError) as info:
        AsyncVoipano("token-0123456789", http_client=blocking)  # type: ignore[arg-type]
    assert "httpx2.AsyncClient" in str(info.value)
    assert "blocking" in str(info.value)


def test_other_clients_are_refused_with_what_to_pass() -> None:
    class Session:  # what requests.Session looks like to us
        pass

    with pytest.raises(TypeError, match=r"must be an httpx2\.AsyncClient, not .*Session"):
        AsyncVoipano("token-0123456789", http_client=Session())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"must be an httpx2\.AsyncClient"):
        Voipano("token-0123456789", http_client=object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [("timeout", "30"), ("download_timeout", True), ("proxy", 3128), ("verify", "ca.pem")],
)
def test_wrongly_typed_options_are_refused(option: str, value: Any) -> None:
    with pytest.raises(TypeError, match=option):
        AsyncVoipano("token-0123456789", **{option: value})


def test_proxy_and_verify_belong_to_a_callers_client() -> None:
    with httpx2.Client(), pytest.raises(ValueError, match="your own http_client"):
        AsyncVoipano(
            "token-0123456789",
            http_client=httpx2.AsyncClient(),
            verify=ssl.create_default_context(),
        )


LEGACY_SCRIPT = textwrap.dedent(
    """
    import httpx, httpx2, sys
    from voipano_async import AsyncVoipano, Voipano

    assert httpx is not httpx2 and httpx.__version__.startswith("0."), httpx.__version__
    cases = {
        "client": dict(http_client=httpx.AsyncClient()),
        "sync-client": dict(http_client=httpx.AsyncClient()),
        "timeout": dict(timeout=httpx.Timeout(5.0)),
        "proxy": dict(proxy=httpx.Proxy("http://127.0.0.1:3128")),
    }
    for name, options in cases.items():
        cls = Voipano if name == "sync-client" else AsyncVoipano
        try:
            cls("token-0123456789", **options)
        except TypeError as exc:
            print(name, "|", exc)
        else:
            sys.exit(f"{name}: accepted")
    """
)


def test_legacy_httpx_objects_are_refused_with_a_migration_hint(tmp_path: Path) -> None:
    """In a process where the real, legacy httpx is imported (no aliasing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-c", LEGACY_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" | ", 1) for line in result.stdout.splitlines())
    assert set(lines) == {"client", "sync-client", "timeout", "proxy"}
    for name in ("client", "sync-client"):
        assert "must be an httpx2.AsyncClient, not httpx." in lines[name]
        assert "legacy httpx client" in lines[name]
    assert "legacy httpx" in lines["timeout"]
    assert "httpx2.Timeout" in lines["timeout"]
    assert "legacy httpx" in lines["proxy"]


def test_a_refused_constructor_leaves_a_readable_repr() -> None:
    client = AsyncVoipano.__new__(AsyncVoipano)
    with pytest.raises(ValueError, match="spend_limit"):
        client.__init__("token-0123456789", spend_limit=-1)  # type: ignore[misc]
    assert "not initialised" in repr(client)


# -- TLS: the operating system's trust store, and how to fix an untrusted certificate --------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
async def tls_url(server_tls: ssl.SSLContext) -> AsyncIterator[str]:
    async with serve(_answer_services, tls=server_tls) as (url, _):
        yield url


@pytest.mark.sockets
async def test_an_untrusted_certificate_says_why_and_how_to_fix_it(
    tls_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A machine whose trust store does not hold the server's CA (a slim container, or a
    # TLS-inspecting proxy's own CA).
    empty = tmp_path / "empty-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(empty))
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    client = AsyncVoipano("token-0123456789", base_url=f"{tls_url}/api", retry=FAST)

    async with client:
        with anyio.fail_after(10), pytest.raises(APIConnectionError) as info:
            await client.call_otp("09123456789")

    message = str(info.value)
    assert "certificate could not be verified" in message
    assert "SSL_CERT_FILE" in message
    assert "--ca-bundle" in message
    assert "token-0123456789" not in message
    assert not info.value.may_have_been_placed
    assert type(info.value) is APIConnectionError


@pytest.mark.sockets
async def test_ssl_cert_file_is_honoured(
    tls_url: str, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with AsyncVoipano("token-0123456789", base_url=f"{tls_url}/api") as client:
        with anyio.fail_after(10):
            assert (await client.services()).total == 1


@pytest.mark.sockets
async def test_verify_takes_a_context_with_your_ca(tls_url: str, ca: trustme.CA) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with AsyncVoipano(
        "token-0123456789", base_url=f"{tls_url}/api", verify=context
    ) as client:
        with anyio.fail_after(10):
            assert (await client.services()).total == 1


def test_the_cli_takes_a_ca_bundle(
    server_tls: ssl.SSLContext, ca: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with anyio.from_thread.start_blocking_portal() as portal:
        cm = portal.wrap_async_context_manager(serve(_answer_services, tls=server_tls))
        with cm as (url, _):
            base = ["--token", "token-0123456789", "--base-url", f"{url}/api"]
            trusted = CliRunner().invoke(cli, [*base, "--ca-bundle", str(bundle), "services"])
            untrusted = CliRunner().invoke(
                cli, [*base, "--ca-bundle", str(tmp_path / "none.pem"), "services"]
            )

    assert trusted.exit_code == 0, trusted.output
    assert "002191010001" in trusted.output
    assert untrusted.exit_code == 2
    assert "--ca-bundle" in untrusted.output


def test_the_cli_refuses_a_file_that_is_not_a_ca_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    result = CliRunner().invoke(
        cli, ["--token", "t0123456789", "--ca-bundle", str(junk), "services"]
    )
    assert result.exit_code == 2
    assert "cannot load CA certificates" in result.output
