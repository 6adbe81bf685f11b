from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest

# respx 0.23 mocks the modules named `httpx` and `httpcore`; make those names httpx2's and
# httpcore2's before respx is imported (its own pytest plugin is off: `-p no:respx`).
httpx2.alias_httpx()

import respx  # noqa: E402

from voipano_async import AsyncVoipano, RetryPolicy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://voipano.com/api/v1/webservice"
TOKEN = "test-token-5f2b9c1e8d"
# The start of a script run in a subprocess that must not see OpenTelemetry: every
# ``opentelemetry`` import fails, as when the package is not installed.
NO_OTEL_PRELUDE = """
import sys
from importlib.abc import MetaPathFinder

class NoOtel(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoOtel())
"""


def run_python(script: str) -> str:
    """Run ``script`` in a fresh interpreter from the project root; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# The retry policy the tests configure: today's rules, with waits short enough that no
# test sleeps for real.
FAST = RetryPolicy(initial=0.001, cap=0.002)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- both HTTP stacks -------------------------------------------------------------------------
#
# A test marked ``sockets`` runs twice: on the SDK's default client (httpx2's pool) and on
# ``DefaultAioHttpClient`` (aiohttp's), every client it makes without ``http_client=``
# made on that stack. aiohttp is asyncio's: its runs on trio are not collected.

STACKS = ("httpx2", "aiohttp")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("sockets"):
        metafunc.parametrize("http_stack", STACKS, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        on_trio = params.get("anyio_backend") == "trio"
        (dropped if on_trio and params.get("http_stack") == "aiohttp" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def http_stack(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The HTTP stack a ``sockets`` test runs on (``httpx2`` for every other test)."""
    stack = str(getattr(request, "param", "httpx2"))
    if stack == "aiohttp":
        from voipano_async._aiohttp import DefaultAioHttpClient
        from voipano_async._settings import PoolOptions

        def open_http_client(
            self: PoolOptions, timeout: httpx2.Timeout
        ) -> tuple[httpx2.AsyncClient, bool]:
            if self.http_client is not None:
                return self.http_client, False
            proxy = None if self.proxy is None else str(getattr(self.proxy, "url", self.proxy))
            return DefaultAioHttpClient(verify=self.verify, proxy=proxy, timeout=timeout), True

        monkeypatch.setattr(PoolOptions, "open_http_client", open_http_client)
    return stack


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("VOIPANO_TOKEN", "VOIPANO_BASE_URL", "VOIPANO_RATE_LIMIT", "VOIPANO_MAX_RETRIES")
    for name in (*names, "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """A respx router for the API; every request must match a route."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(api: respx.MockRouter) -> AsyncIterator[AsyncVoipano]:
    async with AsyncVoipano(TOKEN, retry=FAST) as client:
        yield client


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built once with the real mkdocs.yml (``--strict``)."""
    for module in ("mkdocs", "material", "mkdocstrings"):
        pytest.importorskip(module, reason="the docs toolchain is not installed here")
    site = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [
            sys.executable,
            *("-m", "mkdocs", "build", "--strict"),
            *("--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return site
