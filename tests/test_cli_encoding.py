"""The command line under an output encoding that cannot write Persian, and its defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from voipano_async._config import DEFAULT_CONCURRENCY
from voipano_async.cli._app import cli

ROOT = Path(__file__).resolve().parent.parent


def voipano(*args: str, encoding: str | None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOIPANO_", "PYTHONIO"))}
    if encoding is not None:
        env["PYTHONIOENCODING"] = encoding
    return subprocess.run(
        [sys.executable, "-m", "voipano_async.cli", "--sandbox", "-q", *args],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("encoding", ["latin-1", "ascii", "cp1252"])
def test_persian_names_never_crash_the_output(encoding: str) -> None:
    done = voipano("services", encoding=encoding)

    assert done.returncode == 0, done.stderr.decode(encoding, "replace")
    out = done.stdout.decode(encoding)
    assert "Traceback" not in done.stderr.decode(encoding, "replace")
    # "پلن پیوند", written as escapes the reader can still decode
    assert "\\u067e\\u0644\\u0646" in out
    assert "12" in out


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
def test_json_lines_to_such_a_stream_are_the_same_json(encoding: str) -> None:
    narrow = voipano("reports", "export", encoding=encoding)
    wide = voipano("reports", "export", encoding="utf-8")

    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.decode(encoding).splitlines()
    assert [json.loads(line) for line in lines] == [
        json.loads(line) for line in wide.stdout.decode("utf-8").splitlines()
    ]
    assert len(lines) == 300


def test_csv_to_such_a_stream_is_written_whole() -> None:
    done = voipano("reports", "export", "--format", "csv", encoding="latin-1")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.decode("latin-1").splitlines()) == 301  # a header and 300 rows


def test_every_walk_has_the_same_default_concurrency() -> None:
    defaults = {}

    def visit(command: click.Command, name: str) -> None:
        for param in command.params:
            if param.name == "concurrency":
                defaults[name] = param.default
        if isinstance(command, click.Group):
            for sub_name, sub in command.commands.items():
                visit(sub, f"{name} {sub_name}".strip())

    visit(cli, "")
    assert set(defaults) >= {"harvest", "recordings download", "reports export"}
    assert set(defaults.values()) == {DEFAULT_CONCURRENCY}
