"""The command line stops cleanly on SIGTERM and on repeated Ctrl-C, in real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def slow_harvest(dest: Path, latency: float = 0.2) -> subprocess.Popen[str]:
    """``voipano --sandbox harvest`` with a slow sandbox, into ``dest``."""
    return subprocess.Popen(
        [
            sys.executable,
            *("-m", "voipano_async.cli", "--sandbox", "--sandbox-latency", str(latency)),
            *("harvest", "--dest", str(dest), "--concurrency", "2"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_recordings(dest: Path) -> None:
    deadline = time.monotonic() + 30
    while not list(dest.glob("recordings/*.wav")) and time.monotonic() < deadline:
        time.sleep(0.05)


def leftovers(dest: Path) -> list[str]:
    return [p.name for p in dest.rglob("*") if p.name.startswith(".")]


def test_sigterm_stops_a_harvest_as_ctrl_c_does(tmp_path: Path) -> None:
    dest = tmp_path / "harvest"
    process = slow_harvest(dest)
    wait_for_recordings(dest)
    process.send_signal(signal.SIGTERM)  # what systemd, docker stop and Kubernetes send
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1] == "terminated"
    assert "Traceback" not in err
    assert leftovers(dest) == []  # no .part files
    assert not (dest / "reports.jsonl").exists()


def test_sigterm_before_anything_was_saved_leaves_no_new_directories(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "harvest"
    process = slow_harvest(dest, latency=5)
    deadline = time.monotonic() + 30
    while not dest.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # the harvest is running; its first page is still on its way
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert list(tmp_path.iterdir()) == []


def test_a_second_ctrl_c_during_cleanup_is_quiet(tmp_path: Path) -> None:
    dest = tmp_path / "harvest"
    process = slow_harvest(dest)
    wait_for_recordings(dest)
    for _ in range(4):  # an impatient user
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err.count("interrupted") == 1
    assert "Traceback" not in err
    assert leftovers(dest) == []
