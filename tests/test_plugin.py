"""The pytest plugin works in a user's own project, with no configuration."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

USER_TESTS = '''
import pytest
from voipano_async import AsyncVoipano, InsufficientCreditError
from voipano_async.testing import Fault, VoipanoSandbox


async def send_login_code(client: AsyncVoipano, phone: str) -> str:
    """The user's own code under test."""
    result = await client.call_otp(phone, purpose="login")
    return result.request_id


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_with_anyio(voipano_client, voipano_sandbox, anyio_backend):
    assert isinstance(voipano_sandbox, VoipanoSandbox)
    assert await send_login_code(voipano_client, "09123456789")
    assert voipano_sandbox.requests[-1].path == "/call-otp"
    assert voipano_sandbox.credit == 9840


@pytest.mark.asyncio
async def test_with_pytest_asyncio(voipano_client, voipano_sandbox):
    voipano_sandbox.credit = 100
    with pytest.raises(InsufficientCreditError):
        await send_login_code(voipano_client, "09123456789")


@pytest.mark.asyncio
async def test_faults(voipano_client, voipano_sandbox):
    voipano_sandbox.faults.script("/services", Fault.error(503))
    assert (await voipano_client.services()).total == 2
    assert [r.status for r in voipano_sandbox.requests] == [503, 200]


def test_each_test_gets_a_fresh_sandbox(voipano_sandbox):
    assert voipano_sandbox.credit == 10_000
    assert voipano_sandbox.requests == []
'''


def test_fixtures_work_in_a_users_project(tmp_path: Path) -> None:
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "test_user_code.py").write_text(textwrap.dedent(USER_TESTS))
    (project / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout
