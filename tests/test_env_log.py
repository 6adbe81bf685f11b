"""``VOIPANO_LOG=debug|info`` turns the SDK's logging on, in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "env-log-token-7c1d9e"

SCRIPT = f"""
import anyio
from voipano_async.testing import Fault, VoipanoSandbox

async def main():
    sandbox = VoipanoSandbox(token={TOKEN!r})
    sandbox.faults.script("/services", Fault.error(503))
    async with sandbox.client() as client:
        await client.services()  # a 503, then an answer
        await client.voicemail_inboxes(context="voicemail-02191010001")
    print("done")

anyio.run(main)
"""


def run(
    env_value: str | None, *args: str, script: str = SCRIPT
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOIPANO_")}
    if env_value is not None:
        env["VOIPANO_LOG"] = env_value
    done = subprocess.run(
        [sys.executable, *args] if args else [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_info_logs_one_line_per_attempt_masked() -> None:
    err = run("info").stderr

    assert "INFO voipano_async: GET /services -> 503" in err
    assert "INFO voipano_async: GET /services -> 200" in err
    assert "GET /voicemail-inboxes?context=voicemail-02191***001 -> 200" in err
    assert "retrying" not in err  # the retry decisions are DEBUG
    assert TOKEN not in err
    assert "02191010001" not in err


def test_debug_adds_the_retry_decisions() -> None:
    err = run("DEBUG").stderr  # any case

    assert "DEBUG voipano_async: retrying GET /services after HTTP 503" in err
    assert "GET /services -> 200" in err
    assert TOKEN not in err


def test_unset_logs_nothing() -> None:
    done = run(None)
    assert done.stdout == "done\n"
    assert done.stderr == ""


def test_another_value_is_ignored_with_one_warning() -> None:
    err = run("verbose").stderr
    assert err.strip() == "VOIPANO_LOG='verbose' is not one of debug, info: ignored"


@pytest.mark.parametrize("env_value", ["info", None])
def test_the_cli_s_verbose_flag_and_voipano_log_write_each_line_once(
    env_value: str | None,
) -> None:
    err = run(env_value, "-m", "voipano_async.cli", "--sandbox", "-v", "services").stderr
    assert err.count("GET /services -> 200") == 1
