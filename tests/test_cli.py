"""The ``voipano`` command, driven through click's runner against the sandbox."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from voipano_async.cli._app import cli
from voipano_async.cli._render import human_bytes
from voipano_async.testing import Fault, VoipanoSandbox

SEEDED = VoipanoSandbox()
RECORDED = [r for r in SEEDED.reports if r["has_recording"]]


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> VoipanoSandbox:
    """The sandbox that ``--sandbox`` will use, for tests that script it."""
    sandbox = VoipanoSandbox()
    monkeypatch.setattr("voipano_async.testing.VoipanoSandbox", lambda: sandbox)
    return sandbox


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


# -- simple commands ----------------------------------------------------------------------


def test_services_table() -> None:
    result = run("--sandbox", "services")
    assert result.exit_code == 0
    assert "پلن پیوند" in result.stdout
    assert "002191010001" in result.stdout
    assert result.stderr == ""


def test_inboxes_table() -> None:
    result = run("--sandbox", "inboxes", "--context", "voicemail-user-15")
    assert result.exit_code == 0
    assert "2001" in result.stdout
    assert "1001" not in result.stdout
    assert "allowed contexts: voicemail-02191010001, voicemail-user-15" in result.stdout


def test_otp_prints_result_and_billing(sandbox: VoipanoSandbox) -> None:
    result = run("--sandbox", "otp", "+98 912 345 6789", "--purpose", "login", "--ref", "r-7")
    assert result.exit_code == 0
    fields = dict(line.split(None, 1) for line in lines(result.stdout))
    assert fields["phone_number"] == "09123***789"
    assert fields["purpose"] == "login"
    assert (fields["charged"], fields["unit_price"], fields["remaining_credit"]) == (
        "160",
        "160",
        "9840",
    )
    assert sandbox.requests[0].json == {
        "phone_number": "09123456789",
        "purpose": "login",
        "client_ref": "r-7",
    }


@pytest.mark.parametrize(
    ("flag", "path", "price"), [([], "/click-to-call", 80), (["--secure"], "/secure-call", 120)]
)
def test_call(sandbox: VoipanoSandbox, flag: list[str], path: str, price: int) -> None:
    result = run(
        "--sandbox",
        "call",
        "09123456789",
        "02191010001",
        *flag,
        "--timeout",
        "30",
        "--limit",
        "45",
    )
    assert result.exit_code == 0
    assert f"charged           {price}" in result.stdout
    assert "status            accepted" in result.stdout
    assert sandbox.requests[0].path == path
    assert sandbox.requests[0].json["timeout"] == 30


def test_voicemail_download(tmp_path: Path) -> None:
    message = SEEDED.voicemail_messages[0]
    result = run(
        "--sandbox",
        "voicemail",
        "download",
        message.unique_id,
        "--context",
        message.context,
        "--mailbox",
        message.mailbox,
        "--dest",
        str(tmp_path),
    )
    assert result.exit_code == 0
    path = Path(result.stdout.strip())
    assert path == tmp_path / f"voicemail-{message.unique_id}.wav"
    fresh = run(
        "--sandbox",
        "voicemail",
        "download",
        message.unique_id,
        "--context",
        message.context,
        "--mailbox",
        message.mailbox,
        "--dest",
        f"{tmp_path}/new/",
    )
    assert Path(fresh.stdout.strip()) == tmp_path / "new" / path.name
    with wave.open(str(path)) as audio:
        assert audio.getnframes() > 0


# -- errors and exit codes ----------------------------------------------------------------


def test_bad_phone_number_is_a_usage_error(sandbox: VoipanoSandbox) -> None:
    result = run("--sandbox", "otp", "12345")
    assert result.exit_code == 2
    assert "not an Iranian phone number" in result.stderr
    wrong_destination = run("--sandbox", "call", "09123456789", "0912")
    assert wrong_destination.exit_code == 2
    assert "DESTINATION" in wrong_destination.stderr
    assert sandbox.requests == []


def test_no_token_is_a_usage_error() -> None:
    result = run("services", env={"VOIPANO_TOKEN": ""})
    assert result.exit_code == 2
    assert "--token" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    assert run("--sandbox", "nonsense").exit_code == 2


@pytest.mark.parametrize(
    ("args", "corrected"),
    [
        (["services", "--sandbox"], "voipano --sandbox services"),
        (
            ["-q", "reports", "export", "-o", "a b.csv", "--sandbox", "-vv"],
            "voipano -q --sandbox -vv reports export -o 'a b.csv'",
        ),
        (
            ["inboxes", "--token", "s3cret-token", "--base-url=http://127.0.0.1:1/api"],
            "voipano --token TOKEN --base-url=http://127.0.0.1:1/api inboxes",
        ),
    ],
)
def test_a_global_option_after_the_command_shows_where_it_goes(
    sandbox: VoipanoSandbox, args: list[str], corrected: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "global options go before the command" in result.stderr
    assert corrected in result.stderr
    assert "s3cret" not in result.output  # the token is never printed
    assert sandbox.requests == []


def test_an_unknown_option_is_still_unknown() -> None:
    result = run("--sandbox", "services", "--nonsense")
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert "--nonsense" in result.stderr


@pytest.mark.parametrize(
    ("base_url", "env", "message"),
    [
        ("http://example.com/api", {}, "--base-url must be an https URL"),
        ("http://[::1", {}, "invalid --base-url 'http://[::1'"),
        (None, {"VOIPANO_BASE_URL": "ftp://x"}, "VOIPANO_BASE_URL must be an https URL"),
    ],
)
def test_a_refused_base_url_names_the_option(
    base_url: str | None, env: dict[str, str], message: str
) -> None:
    option = [] if base_url is None else ["--base-url", base_url]
    result = run(*option, "--token", "cli-test-token", "services", env=env)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "base_url" not in result.stderr


def all_commands(group: click.Group = cli) -> Iterator[click.Command]:
    yield group
    for command in group.commands.values():
        yield from all_commands(command) if isinstance(command, click.Group) else [command]


def test_every_option_has_help() -> None:
    missing = [
        f"{command.name} {option.opts[-1]}"
        for command in all_commands()
        for option in command.params
        if isinstance(option, click.Option) and not option.hidden and not option.help
    ]
    assert missing == []
    help_text = run("sandbox", "--help").stdout
    assert "every interface" in help_text
    assert "0 picks a free one" in help_text


def test_voicemail_download_help_says_where_the_id_comes_from() -> None:
    result = run("voicemail", "download", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "no request that lists voicemail messages" in text
    assert "not the inbox id" in text
    assert "voipano inboxes lists the values for --context and --mailbox" in text


def test_api_error_is_one_line_and_says_the_call_was_not_placed(
    sandbox: VoipanoSandbox,
) -> None:
    sandbox.credit = 100
    result = run("--sandbox", "otp", "09123456789")
    assert result.exit_code == 1
    [line] = lines(result.stderr)
    assert line.startswith("error: InsufficientCreditError: ")
    assert "اعتبار" in line
    assert line.endswith("). The call was not placed.")  # after "(HTTP 402 ...)"
    assert "Traceback" not in result.output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_call_was_not_placed_is_a_sentence_of_its_own() -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/api"
    result = run("--base-url", base_url, "--token", "cli-test-token", "otp", "09123456789")
    assert result.exit_code == 1
    [line] = lines(result.stderr)
    assert line.startswith("error: APIConnectionError: ")
    assert line.endswith("All connection attempts failed. The call was not placed.")


def test_dropped_charged_call_says_it_may_have_been_placed(sandbox: VoipanoSandbox) -> None:
    sandbox.faults.script("/secure-call", Fault.drop(after_acting=True))
    result = run("--sandbox", "call", "--secure", "09123456789", "09129876543")
    assert result.exit_code == 1
    [line] = lines(result.stderr)
    assert line.startswith("error: APIConnectionError: ")
    assert "may have been placed" in line
    assert len(sandbox.requests) == 1


def test_read_error_exit_code(sandbox: VoipanoSandbox) -> None:
    sandbox.faults.script("/services", *[Fault.error(503)] * 3)
    result = run("--sandbox", "services")
    assert result.exit_code == 1
    assert lines(result.stderr) == [
        "error: ServerError: خطای داخلی سرور (HTTP 503, GET /services)"
    ]


# -- export -------------------------------------------------------------------------------


def test_export_jsonl_to_stdout() -> None:
    result = run("--sandbox", "reports", "export", "--per-page", "40", "--concurrency", "3")
    assert result.exit_code == 0
    records = [json.loads(line) for line in lines(result.stdout)]
    assert [r["id"] for r in records] == [r["id"] for r in SEEDED.reports]
    assert records[0]["duration"] == SEEDED.reports[0]["duration"]  # extra fields kept
    assert "300 reports (8 pages) to standard output" in result.stderr
    assert "━" not in result.stderr  # no progress bars when stderr is not a terminal


def test_export_csv_to_file_with_recording_filter(tmp_path: Path) -> None:
    out = tmp_path / "reports.csv"
    result = run(
        "--sandbox", "reports", "export", "--has-recording", "--format", "csv", "-o", str(out)
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [row["id"] for row in rows] == [r["id"] for r in RECORDED]
    assert rows[0]["has_recording"] == "True"
    assert rows[0]["disposition"] == "ANSWERED"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports.csv"]


def test_failed_export_leaves_no_file(sandbox: VoipanoSandbox, tmp_path: Path) -> None:
    out = tmp_path / "reports.jsonl"
    out.write_text("the previous export\n")
    sandbox.faults.script("/call-reports", Fault.error(200, {"ok": True, "data": []}))
    result = run("--sandbox", "reports", "export", "-o", str(out))
    assert result.exit_code == 1
    assert "UnexpectedResponseError" in result.stderr
    assert out.read_text() == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports.jsonl"]


def test_export_into_a_pipe_writes_through_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run("--sandbox", "reports", "export", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.exit_code == 0
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe, not replaced by a file
    assert len(received[0].splitlines()) == 300


def test_export_cleans_what_a_killed_run_left(tmp_path: Path) -> None:
    (tmp_path / ".reports.jsonl.0badf00d.part").write_text("half an export")
    result = run("--sandbox", "reports", "export", "-o", str(tmp_path / "reports.jsonl"))
    assert result.exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports.jsonl"]


def test_export_to_a_missing_directory(tmp_path: Path) -> None:
    result = run("--sandbox", "reports", "export", "-o", str(tmp_path / "no" / "x.jsonl"))
    assert result.exit_code == 2


# -- recordings and harvest ----------------------------------------------------------------


def wavs(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_recordings_download_and_resume(tmp_path: Path) -> None:
    dest = tmp_path / "rec"
    first = run("--sandbox", "recordings", "download", "--dest", str(dest), "--concurrency", "6")
    assert first.exit_code == 0
    expected = sorted(f"recording-{r['call_details_record_id']}.wav" for r in RECORDED)
    assert wavs(dest) == expected
    assert f"recordings  {len(RECORDED)} downloaded, 0 already there" in first.stderr

    # Interrupted halfway last time: some files are missing.
    for name in expected[::3]:
        (dest / name).unlink()
    second = run("--sandbox", "recordings", "download", "--dest", str(dest))
    missing = len(expected[::3])
    assert second.exit_code == 0
    assert (
        f"recordings  {missing} downloaded, {len(expected) - missing} already there"
        in second.stderr
    )
    assert wavs(dest) == expected


def test_a_failing_download_does_not_stop_the_others(
    sandbox: VoipanoSandbox, tmp_path: Path
) -> None:
    broken = RECORDED[5]["call_details_record_id"]
    sandbox.faults.script(f"/call-recordings/{broken}", *[Fault.error(500)] * 3)
    result = run("--sandbox", "recordings", "download", "--dest", str(tmp_path))
    assert result.exit_code == 1
    assert len(wavs(tmp_path)) == len(RECORDED) - 1
    assert f"failed: {broken}: ServerError" in result.stderr
    assert "failures    1" in result.stderr
    assert "Traceback" not in result.output


def test_harvest(tmp_path: Path) -> None:
    dest = tmp_path / "harvest"
    result = run("--sandbox", "harvest", "--dest", str(dest))
    assert result.exit_code == 0
    exported = [json.loads(line) for line in lines((dest / "reports.jsonl").read_text("utf-8"))]
    assert len(exported) == 300
    assert len(wavs(dest / "recordings")) == len(RECORDED)
    assert sorted(p.name for p in dest.iterdir()) == ["recordings", "reports.jsonl"]
    summary = result.stderr
    assert "reports     300 (30 pages)" in summary
    assert "failures    0" in summary
    size = sum(p.stat().st_size for p in (dest / "recordings").iterdir())
    assert f"bytes       {human_bytes(size)}" in summary

    again = run("--sandbox", "--quiet", "harvest", "--dest", str(dest))
    assert again.exit_code == 0
    assert again.stderr == ""


# -- over the wire, and interrupted ----------------------------------------------------------


@contextmanager
def serve(*args: str) -> Iterator[str]:
    """``voipano sandbox ARGS`` in a subprocess on a free port; yields the URL it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "voipano_async.cli", "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url, process.stderr.read() if process.stderr else ""
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 130, err


@pytest.fixture
def served() -> Iterator[str]:
    """``voipano sandbox`` in a subprocess on a free port; yields its base URL."""
    with serve("--reports", "50") as url:
        assert url.startswith("http://127.0.0.1:")
        yield url


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("0.0.0.0", "http://127.0.0.1:"),
        pytest.param(
            "::",
            "http://[::1]:",
            marks=pytest.mark.skipif(not ipv6_available(), reason="no IPv6"),
        ),
    ],
)
def test_served_on_every_interface_prints_a_url_clients_accept(host: str, shown: str) -> None:
    with serve("--host", host, "--reports", "5") as url:
        assert url.startswith(shown)
        result = run("--base-url", url, "--token", "sandbox-token", "services")
        assert result.exit_code == 0, result.output
        assert "002191010001" in result.stdout


def test_against_a_real_base_url(served: str, tmp_path: Path) -> None:
    env = {"VOIPANO_TOKEN": "sandbox-token", "VOIPANO_BASE_URL": served}
    assert run("services", env=env).exit_code == 0
    result = run("harvest", "--dest", str(tmp_path), env=env)
    assert result.exit_code == 0, result.output
    assert len(lines((tmp_path / "reports.jsonl").read_text())) == 50
    wrong = run("--token", "wrong", "--base-url", served, "services")
    assert wrong.exit_code == 1
    assert "AuthenticationError" in wrong.stderr


def test_ctrl_c_stops_cleanly_with_no_partial_files(tmp_path: Path) -> None:
    dest = tmp_path / "harvest"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voipano_async.cli",
            "--sandbox",
            "--sandbox-latency",
            "0.2",
            "harvest",
            "--dest",
            str(dest),
            "--concurrency",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not list(dest.glob("recordings/*.wav")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert not (dest / "reports.jsonl").exists()
    leftovers = [p.name for p in dest.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert os.listdir(dest / "recordings")  # what finished is kept for the next run
