"""The README's first Quickstart command, run as a new user would: a fresh virtualenv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_the_quickstart_has_exactly_two_commands() -> None:
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


@pytest.mark.slow
def test_the_main_job_runs_on_a_fresh_machine(tmp_path: Path) -> None:
    """Installs the package with its CLI into a new virtualenv and runs the main job."""
    checkout = tmp_path / "voipano-async"
    shutil.copytree(
        ROOT,
        checkout,
        ignore=shutil.ignore_patterns(
            ".git",
            ".nox",
            ".venv",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            "site",
            "dist",
            "harvest",
        ),
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(env_dir),
    }
    env.pop("VOIPANO_TOKEN", None)
    first = quickstart_commands()[0]

    result = subprocess.run(
        ["bash", "-c", first], cwd=checkout, env=env, capture_output=True, text=True, timeout=900
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    harvest = checkout / "harvest"
    reports = (harvest / "reports.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(reports) == 300
    assert all(json.loads(line)["id"] for line in reports)
    recordings = list((harvest / "recordings").glob("*.wav"))
    assert len(recordings) == sum(json.loads(line)["has_recording"] for line in reports)
    assert "failures    0" in result.stderr
    # The package runs on httpx2 alone: the legacy httpx/httpcore are not installed.
    listed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    installed = {item["name"].lower() for item in json.loads(listed.stdout)}
    assert {"voipano-async", "httpx2", "httpcore2"} <= installed
    assert not installed & {"httpx", "httpcore"}, sorted(installed)
