"""A disk that fills up mid-write leaves no temporary file, in real processes.

The file size limit (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored) makes the kernel refuse
writes past it with ``EFBIG``, as a full disk refuses them with ``ENOSPC``: the write
fails, and closing the file fails again as it flushes what is still buffered.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="POSIX only")

LIMIT = 64 * 1024


def _small_disk() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def on_a_small_disk(*args: str) -> subprocess.CompletedProcess[str]:
    """Python with ``args``, in a process that may write files of at most ``LIMIT`` bytes."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=_small_disk,
        check=False,
    )


DOWNLOAD = """
import sys
import anyio
from voipano_async.testing import VoipanoSandbox

async def main() -> None:
    sandbox = VoipanoSandbox()
    sandbox.recording_seconds = 10  # 160 KB of audio, past the limit
    report = next(r for r in sandbox.reports if r["has_recording"])
    async with sandbox.client() as client:
        try:
            await client.download_call_recording(report["call_details_record_id"], sys.argv[1])
        except OSError as exc:
            print("OSError", exc.errno)

anyio.run(main)
"""


def test_a_download_that_fills_the_disk_leaves_no_file(tmp_path: Path) -> None:
    done = on_a_small_disk("-c", DOWNLOAD, str(tmp_path) + "/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OSError", str(27)]  # EFBIG, not a bare crash
    assert os.listdir(tmp_path) == []


def test_an_export_that_fills_the_disk_leaves_no_file(tmp_path: Path) -> None:
    output = tmp_path / "reports.jsonl"
    done = on_a_small_disk(
        *("-m", "voipano_async.cli", "--sandbox", "-q", "reports", "export"),
        *("--output", str(output)),
    )
    assert done.returncode == 1, done.stderr
    assert "error" in done.stderr
    assert "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []
