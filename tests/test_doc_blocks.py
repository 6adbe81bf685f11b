"""Every Python block in the docs that is a complete program runs, against the sandbox.

A block is a complete program when it makes its own client (``AsyncVoipano(...)``,
``Voipano(...)`` or ``VoipanoSandbox(...)``). It runs as printed, top-level ``await``
included (as in ``python -m asyncio``), with ``VOIPANO_TOKEN`` and ``VOIPANO_BASE_URL``
pointing at a sandbox served on loopback, in an empty working directory. A block that
needs something the test environment lacks (Django, say) is marked in the page with an
HTML comment ``<!-- not run: why -->`` on the line before it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest

from voipano_async import AsyncVoipano, Voipano
from voipano_async.testing import VoipanoSandbox

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"(?:<!-- not run: (?P<why>.*?) -->\n)?```python\n(?P<code>.*?)```", re.S)
PROGRAM = re.compile(r"\b(?:Async)?Voipano\(|VoipanoSandbox\(")


def doc_blocks() -> Iterator[tuple[str, str]]:
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            code = match["code"]
            if match["why"] or not PROGRAM.search(code) or "--8<--" in code:
                continue
            line = text.count("\n", 0, match.start("code"))
            yield f"{page.relative_to(DOCS)}:{line}", code


BLOCKS = dict(doc_blocks())


def test_the_docs_have_programs_to_run() -> None:
    assert len(BLOCKS) >= 40


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """One sandbox served for all the blocks (from its own thread), with credit to spare."""
    sandbox = VoipanoSandbox(credit=1_000_000)
    with (
        anyio.from_thread.start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(sandbox.serve()) as base_url,
    ):
        yield base_url


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox_url: str) -> None:
    monkeypatch.setenv("VOIPANO_TOKEN", "sandbox-token")
    monkeypatch.setenv("VOIPANO_BASE_URL", sandbox_url)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("where", list(BLOCKS))
@pytest.mark.usefixtures("served")
def test_doc_block_runs(where: str) -> None:
    code = compile(
        BLOCKS[where], where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    namespace: dict[str, object] = {"__name__": "__main__"}

    async def finish(result: object) -> None:
        try:
            if inspect.iscoroutine(result):
                await result
        finally:
            # A page may keep a client at module level, as an application would.
            for value in list(namespace.values()):
                if isinstance(value, AsyncVoipano):
                    await value.aclose()

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            result = eval(code, namespace)
            asyncio.run(finish(result))
        finally:
            for value in list(namespace.values()):
                if isinstance(value, Voipano):
                    value.close()
