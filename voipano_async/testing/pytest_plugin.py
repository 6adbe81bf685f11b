"""pytest fixtures for testing code that uses voipano-async, registered automatically.

``voipano_sandbox`` is a fresh [`VoipanoSandbox`][voipano_async.testing.VoipanoSandbox] per test;
``voipano_client`` is an [`AsyncVoipano`][voipano_async.AsyncVoipano] wired to it in process. Both
are plain (synchronous) fixtures, so they work with pytest-asyncio, anyio's plugin and
trio alike.

The sandbox takes its arguments from the test's ``voipano_sandbox`` marker
(``@pytest.mark.voipano_sandbox(dialect="php", credit=500)``); its dialect, for every test
that does not say, from ``--voipano-dialect`` (or the ``voipano_dialect`` ini option).

Examples:
    >>> async def test_login_sends_an_otp(voipano_client, voipano_sandbox):
    ...     await send_login_code(voipano_client, "09123456789")
    ...     assert voipano_sandbox.requests[-1].path == "/call-otp"
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from voipano_async import AsyncVoipano, Voipano

from ._php import DIALECTS
from ._sandbox import VoipanoSandbox

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "voipano_client",
    "voipano_sandbox",
    "voipano_sync_client",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("voipano", "voipano-async's sandbox")
    help_text = (
        "How the voipano_sandbox fixture answers: 'published' (the vendor's samples) or "
        "'php' (as a PHP/Laravel server drifts from them, without loss)."
    )
    group.addoption("--voipano-dialect", choices=DIALECTS, default=None, help=help_text)
    parser.addini("voipano_dialect", help_text, default="published")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "voipano_sandbox(**options): the arguments of this test's VoipanoSandbox "
        "(dialect='php', credit=500, ...)",
    )


@pytest.fixture
def voipano_sandbox(request: pytest.FixtureRequest) -> VoipanoSandbox:
    """A fresh sandbox for each test: seeded data, 10 000 credit, no faults.

    Its arguments come from the test's ``voipano_sandbox`` marker, its dialect otherwise
    from ``--voipano-dialect`` or the ``voipano_dialect`` ini option.
    """
    config = request.config
    dialect = config.getoption("voipano_dialect", None) or config.getini("voipano_dialect")
    marker = request.node.get_closest_marker("voipano_sandbox")
    options = {"dialect": dialect, **(marker.kwargs if marker else {})}
    return VoipanoSandbox(**options)


@pytest.fixture
def voipano_client(voipano_sandbox: VoipanoSandbox) -> AsyncVoipano:
    """An ``AsyncVoipano`` wired to ``voipano_sandbox`` in process (no sockets)."""
    return voipano_sandbox.client()


@pytest.fixture
def voipano_sync_client(voipano_sandbox: VoipanoSandbox) -> Iterator[Voipano]:
    """A blocking ``Voipano`` wired to ``voipano_sandbox``, closed after the test."""
    with voipano_sandbox.sync_client() as client:
        yield client
