"""pytest fixtures for testing code that uses voipano-async, registered automatically.

``voipano_sandbox`` is a fresh [`VoipanoSandbox`][voipano_async.testing.VoipanoSandbox] per test;
``voipano_client`` is an [`AsyncVoipano`][voipano_async.AsyncVoipano] wired to it in process. Both
are plain (synchronous) fixtures, so they work with pytest-asyncio, anyio's plugin and
trio alike.

Examples:
    >>> async def test_login_sends_an_otp(voipano_client, voipano_sandbox):
    ...     await send_login_code(voipano_client, "09123456789")
    ...     assert voipano_sandbox.requests[-1].path == "/call-otp"
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from voipano_async import AsyncVoipano, Voipano

from ._sandbox import VoipanoSandbox

__all__ = ["voipano_client", "voipano_sandbox", "voipano_sync_client"]


@pytest.fixture
def voipano_sandbox() -> VoipanoSandbox:
    """A fresh sandbox for each test: seeded data, 10 000 credit, no faults."""
    return VoipanoSandbox()


@pytest.fixture
def voipano_client(voipano_sandbox: VoipanoSandbox) -> AsyncVoipano:
    """An ``AsyncVoipano`` wired to ``voipano_sandbox`` in process (no sockets)."""
    return voipano_sandbox.client()


@pytest.fixture
def voipano_sync_client(voipano_sandbox: VoipanoSandbox) -> Iterator[Voipano]:
    """A blocking ``Voipano`` wired to ``voipano_sandbox``, closed after the test."""
    with voipano_sandbox.sync_client() as client:
        yield client
