"""``voipano`` and the paths it writes: a path it cannot use is a usage error, sent nothing,
and a run that saved nothing leaves no directories behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from voipano_async.cli._app import cli
from voipano_async.testing import Fault, VoipanoSandbox

MESSAGE = VoipanoSandbox().voicemail_messages[0]
VOICEMAIL = [
    "voicemail",
    "download",
    MESSAGE.unique_id,
    "--context",
    MESSAGE.context,
    "--mailbox",
    MESSAGE.mailbox,
]


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> VoipanoSandbox:
    sandbox = VoipanoSandbox()
    monkeypatch.setattr("voipano_async.testing.VoipanoSandbox", lambda: sandbox)
    return sandbox


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a file ``afile`` and a directory ``adir``."""
    (tmp_path / "afile").write_text("not a directory")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- a path that cannot be used: one message, status 2, nothing sent -----------------------

UNUSABLE = [
    (["reports", "export", "-o", "adir"], "cannot write to 'adir': it is a directory"),
    (["reports", "export", "-o", "afile/x.jsonl"], "'afile' is a file, not a directory"),
    (["reports", "export", "-o", "none/x.jsonl"], "the directory 'none' does not exist"),
    (["recordings", "download", "--dest", "afile"], "'afile': it is a file, not a directory"),
    (["recordings", "download", "--dest", "afile/x"], "'afile' is a file, not a directory"),
    (["harvest", "--dest", "afile"], "cannot write to 'afile': it is a file, not a directory"),
    (["harvest", "--dest", "afile/new"], "'afile' is a file, not a directory"),
    ([*VOICEMAIL, "--dest", "afile/x.wav"], "'afile' is a file, not a directory"),
    ([*VOICEMAIL, "--dest", "afile/"], "'afile': it is a file, not a directory"),
    ([*VOICEMAIL, "--dest", "none/x.wav"], "the directory 'none' does not exist"),
]


@pytest.mark.parametrize(("args", "message"), UNUSABLE)
@pytest.mark.usefixtures("here")
def test_an_unusable_path_is_a_usage_error(
    sandbox: VoipanoSandbox, args: list[str], message: str
) -> None:
    result = run("--sandbox", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Error" in result.stderr
    assert "Traceback" not in result.output
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "reports.jsonl").mkdir(), "'h/reports.jsonl': it is a directory"),
        (lambda d: (d / "recordings").touch(), "'h/recordings': it is a file, not a directory"),
    ],
)
def test_harvest_checks_what_it_writes_inside_dest(
    sandbox: VoipanoSandbox, here: Path, make: object, message: str
) -> None:
    (here / "h").mkdir()
    make(here / "h")  # type: ignore[operator]
    result = run("--sandbox", "harvest", "--dest", "h")
    assert result.exit_code == 2
    assert message in result.stderr
    assert sandbox.requests == []


@pytest.fixture
def read_only() -> Iterator[Path]:
    """A directory nobody may write into, inside one anybody may read."""
    top = Path(tempfile.mkdtemp(prefix="voipano-cli-"))
    top.chmod(0o755)
    (top / "ro").mkdir(mode=0o555)
    (top / "ro").chmod(0o555)
    try:
        yield top
    finally:
        (top / "ro").chmod(0o755)
        for path in sorted(top.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        top.rmdir()


@pytest.mark.parametrize(
    "args",
    [
        ["reports", "export", "-o", "ro/x.jsonl"],
        ["recordings", "download", "--dest", "ro/recordings"],
        ["harvest", "--dest", "ro"],
        [*VOICEMAIL, "--dest", "ro/"],
    ],
    ids=["export", "recordings", "harvest", "voicemail"],
)
def test_permission_denied_is_a_usage_error(
    read_only: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        result = subprocess.run(
            [sys.executable, "-m", "voipano_async.cli", "--sandbox", *args],
            cwd=read_only,
            capture_output=True,
            text=True,
            timeout=60,
        )
        code, stderr = result.returncode, result.stderr
    else:
        # Root may write anywhere, so the mode bits are applied as they would be to
        # anybody else: a directory without write bits refuses writes.
        real_access = os.access

        def access(path: str | os.PathLike[str], mode: int) -> bool:
            if mode & os.W_OK and not os.stat(path).st_mode & 0o222:
                return False
            return real_access(path, mode)

        monkeypatch.setattr(os, "access", access)
        monkeypatch.chdir(read_only)
        ran = run("--sandbox", *args)
        code, stderr = ran.exit_code, ran.stderr
    assert code == 2, stderr
    assert "permission denied" in stderr
    assert "Traceback" not in stderr
    assert sorted(p.name for p in read_only.rglob("*")) == ["ro"]


# -- a run that saved nothing leaves no directories ----------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_harvest_creates_no_directories(tmp_path: Path) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/api"
    dest = tmp_path / "new" / "harvest"
    result = run(
        "--base-url", base_url, "--token", "cli-test-token", "harvest", "--dest", str(dest)
    )
    assert result.exit_code == 1
    assert "APIConnectionError" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["harvest"], ["recordings", "download"]])
def test_failed_walk_removes_only_what_it_created(
    sandbox: VoipanoSandbox, tmp_path: Path, command: list[str]
) -> None:
    sandbox.faults.script("/call-reports", Fault.error(401))
    assert run("--sandbox", *command, "--dest", str(tmp_path / "d")).exit_code == 1
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "mine").mkdir()  # there before the run: kept, even empty
    sandbox.faults.script("/call-reports", Fault.error(401))
    assert run("--sandbox", *command, "--dest", str(tmp_path / "mine")).exit_code == 1
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]
    assert list((tmp_path / "mine").iterdir()) == []


def test_harvest_without_a_recording_saved_has_no_recordings_directory(
    sandbox: VoipanoSandbox, tmp_path: Path
) -> None:
    sandbox.faults.script("/call-recordings/*", *[Fault.error(404)] * 1000)
    result = run("--sandbox", "harvest", "--dest", str(tmp_path / "h"))
    assert result.exit_code == 1  # every download failed
    assert [p.name for p in (tmp_path / "h").iterdir()] == ["reports.jsonl"]
