"""Clients live through forks and new event loops, in real processes over real sockets.

gunicorn ``--preload``, uWSGI and Celery's prefork fork a process that already made its
client; a Django view or a script calls ``asyncio.run`` more than once with one
module-level client. Each case runs as a script in its own interpreter, against
``voipano sandbox`` served in another, with a timeout: a hang fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from .conftest import ROOT
from .test_cli import serve

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve("--reports", "20") as base_url:
        yield base_url


def run_script(script: str, url: str) -> list[str]:
    env = {**os.environ, "VOIPANO_TOKEN": "sandbox-token", "VOIPANO_BASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.split()


FORK_BLOCKING = """
import os
from voipano_async import Voipano

client = Voipano()  # made before the fork, as gunicorn --preload makes it
assert client.services().total == 2
pid = os.fork()
if pid == 0:  # the worker
    try:
        print("child", client.services().total, client.call_otp("09123456789").billing.charged)
        client.close()
    finally:
        os._exit(0)
_, status = os.waitpid(pid, 0)
print("child-exit", os.waitstatus_to_exitcode(status))
print("parent", client.services().total, client.spent)  # its own connection still good
"""


def test_a_blocking_client_made_before_a_fork_works_in_the_child(url: str) -> None:
    # The child does not hang on the parent's loop thread, and exits at once.
    assert run_script(FORK_BLOCKING, url) == [
        *("child", "2", "160"),
        *("child-exit", "0"),
        *("parent", "2", "0"),
    ]


FORK_ASYNC = """
import asyncio, os
from voipano_async import AsyncVoipano

client = AsyncVoipano()

async def use():
    return (await client.services()).total

print("parent", asyncio.run(use()))
pid = os.fork()
if pid == 0:
    try:
        print("child", asyncio.run(use()))
    finally:
        os._exit(0)
os.waitpid(pid, 0)
print("parent-again", asyncio.run(use()))
"""


def test_an_async_client_used_then_forked_opens_its_own_connections(url: str) -> None:
    assert run_script(FORK_ASYNC, url) == ["parent", "2", "child", "2", "parent-again", "2"]


LOOPS = """
import asyncio
from voipano_async import AsyncVoipano

client = AsyncVoipano(max_concurrency=2, rate_limit=50)  # one module-level client

async def otp():
    return (await client.call_otp("09123456789")).billing.charged

print(asyncio.run(otp()), asyncio.run(otp()), client.spent)
"""


def test_one_client_serves_one_asyncio_run_after_another(url: str) -> None:
    assert run_script(LOOPS, url) == ["160", "160", "320"]


OWN_CLIENT = """
import asyncio, httpx2
from voipano_async import AsyncVoipano, VoipanoError

http = httpx2.AsyncClient()
client = AsyncVoipano(http_client=http)

async def otp():
    return (await client.call_otp("09123456789")).billing.charged

print(asyncio.run(otp()))
try:
    asyncio.run(otp())
except VoipanoError as exc:
    print("refused", exc.may_have_been_placed, "nothing was sent" in str(exc), client.spent)
"""


def test_a_callers_own_http_client_on_another_loop_is_refused_before_sending(url: str) -> None:
    assert run_script(OWN_CLIENT, url) == ["160", "refused", "False", "True", "160"]
