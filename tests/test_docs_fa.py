"""The Persian quickstart, docs/fa/index.md: right-to-left prose, left-to-right code.

Most checks read the Markdown source and run its examples against the sandbox, so they run
in every test session. ``test_built_page_*`` builds the site with the real mkdocs.yml and
needs the documentation toolchain (mkdocs, mkdocs-material, mkdocstrings): those tests are
marked ``built_docs`` and run in the ``docs`` nox session, where the toolchain is.
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import anyio
import pytest

import voipano_async
from voipano_async import AsyncVoipano, Voipano
from voipano_async.testing import VoicemailMessage, VoipanoSandbox

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGE = DOCS / "fa" / "index.md"
CSS = DOCS / "fa" / "rtl.css"
MKDOCS_YML = ROOT / "mkdocs.yml"

OPEN_RTL = '<div dir="rtl" lang="fa" markdown>'
PERSIAN = re.compile(r"[\u0600-\u06ff]")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


def _source() -> str:
    return PAGE.read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(_source()) if lang == language]


def _prose() -> str:
    """The page without fenced code blocks, inline code, link targets and HTML tags."""
    text = FENCE.sub("\n", _source())
    text = re.sub(r'^!!! \w+ "(.*)"$', r"\1", text, flags=re.MULTILINE)  # admonition titles
    text = re.sub(r"`[^`\n]+`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"\{#[\w-]+\}", " ", text)
    return re.sub(r"<[^>]+>", " ", text)


# -- the Markdown source ---------------------------------------------------------------------


def test_the_whole_page_is_one_rtl_block() -> None:
    text = _source()
    assert text.startswith(OPEN_RTL + "\n\n"), "the page must open with the rtl block"
    assert text.rstrip().endswith("</div>")
    assert text.count("<div") == 1
    assert text.count("</div>") == 1


def test_every_heading_has_an_ascii_anchor() -> None:
    """Persian headings would get anchors such as "#_3"; each names its own instead."""
    headings = re.findall(r"^#+ (.*)$", FENCE.sub("", _source()), re.MULTILINE)
    assert len(headings) >= 10
    anchors = []
    for heading in headings:
        match = re.search(r" \{#([a-z0-9-]+)\}$", heading)
        assert match, f"heading without an {{#anchor}}: {heading!r}"
        anchors.append(match.group(1))
    assert len(anchors) == len(set(anchors))


def test_covers_the_quickstart_topics() -> None:
    text = _source()
    for needle in [
        "pip install voipano-async",
        "VOIPANO_TOKEN",
        "call_otp",
        "anyio.run",
        "InvalidPhoneNumberError",
        "+98",
        "۰۹۱۲",
        "may_have_been_placed",
        "call_reports(has_recording=True, concurrency=8)",
        "download_call_recording",
        "VoipanoSandbox",
        "voipano --sandbox harvest --dest harvest",
        "from voipano_async import Voipano",
        "django",
    ]:
        assert needle in text, needle


def test_persian_typography() -> None:
    prose = _prose()
    assert len(PERSIAN.findall(prose)) > 3000
    # Persian letters, not their Arabic look-alikes.
    assert "\u064a" not in prose, "Arabic yeh (ي): use Persian yeh (ی)"
    assert "\u0643" not in prose, "Arabic kaf (ك): use Persian kaf (ک)"
    # Persian punctuation next to Persian words.
    letter = r"[\u0600-\u06ff]"
    for mark, persian in [(",", "،"), (";", "؛"), ("?", "؟")]:
        bad = re.findall(rf"{letter}\s*\{mark}", prose)
        assert not bad, f"use {persian} instead of {mark}: {bad}"
    assert not re.search(rf'"\s*{letter}|{letter}\s*"', prose), "use «» around Persian text"
    assert "«" in prose
    assert "»" in prose
    # The zero-width non-joiner (نیم‌فاصله) in verb prefixes and plural suffixes, not a space.
    assert prose.count("\u200c") > 100
    assert not re.search(r"(?<![\u0600-\u06ff\u200c])(?:ن?می) (?=[\u0600-\u06ff])", prose)
    assert not re.search(rf"{letter} (?:ها|های|هایی)(?![\u0600-\u06ff\u200c])", prose)
    # Persian digits in Persian sentences (ASCII digits only inside Latin words and code).
    assert not re.search(r"(?<![\w.\-])[0-9]+(?![\w.\-])", prose), "use Persian digits"


def test_python_blocks_parse() -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 10
    for code in blocks:
        compile(code, "<docs/fa/index.md>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_code_uses_only_the_real_api() -> None:
    """Every name imported from the package exists; every client method called exists."""
    modules = {"voipano_async": voipano_async, "voipano_async.testing": voipano_async.testing}
    for code in _blocks("python"):
        flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        tree = compile(code, "<docs/fa/index.md>", "exec", flags=flags)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                for alias in node.names:
                    assert hasattr(modules[node.module], alias.name), alias.name
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in {"client", "voipano_sync_client"}
            ):
                assert hasattr(AsyncVoipano, node.attr) or hasattr(Voipano, node.attr), node.attr
    for name in re.findall(r"`([a-z_]+)\(\)`", _source()):
        assert hasattr(AsyncVoipano, name), name


def test_links_to_the_english_pages_resolve() -> None:
    links = re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", _source())
    assert links
    for link in links:
        assert (PAGE.parent / link).resolve().is_file(), link


def test_rtl_stylesheet_keeps_code_left_to_right() -> None:
    css = CSS.read_text(encoding="utf-8")
    block = re.search(r'\.md-typeset \[dir="rtl"\] pre,[^{]*\{([^}]*)\}', css)
    assert block, "no rule for code blocks inside the rtl block"
    assert "direction: ltr" in block.group(1)
    assert "text-align: left" in block.group(1)
    inline = re.search(r'\.md-typeset \[dir="rtl"\] code,[^{]*\{([^}]*)\}', css)
    assert inline, "no rule for inline code inside the rtl block"
    assert "direction: ltr" in inline.group(1)
    assert "unicode-bidi: isolate" in inline.group(1)


def test_mkdocs_yml_serves_the_page() -> None:
    """The page needs md_in_html (the rtl block), attr_list (anchors) and its stylesheet."""
    config = MKDOCS_YML.read_text(encoding="utf-8")
    extensions = config.split("markdown_extensions:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"^  - md_in_html$", extensions, re.MULTILINE)
    assert re.search(r"^  - attr_list$", extensions, re.MULTILINE)
    assert re.search(r"^extra_css:\n(?:  - .*\n)*  - fa/rtl\.css$", config, re.MULTILINE)
    assert re.search(r"^  - .+: fa/index\.md$", config, re.MULTILINE)


# -- the examples, run against the sandbox ----------------------------------------------------


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> VoipanoSandbox:
    """A sandbox that every ``AsyncVoipano()`` in an example talks to, in a scratch cwd."""
    sandbox = VoipanoSandbox(reports=40)
    sandbox.voicemail_messages.append(
        VoicemailMessage("1739558127.155", "voicemail-02191010001", "1001")
    )

    def client(token: str | None = None, **options: Any) -> AsyncVoipano:
        return sandbox.client(**options)

    monkeypatch.setattr(voipano_async, "AsyncVoipano", client)
    monkeypatch.chdir(tmp_path)
    return sandbox


def _public() -> dict[str, Any]:
    return {name: getattr(voipano_async, name) for name in voipano_async.__all__}


def test_full_programs_run(sandbox: VoipanoSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    programs = [code for code in _blocks("python") if "anyio.run(" in code]
    assert len(programs) >= 5
    for code in programs:
        exec(compile(code, "<docs/fa/index.md>", "exec"), {"__name__": "__example__"})
    out = capsys.readouterr().out
    assert "code sent:" in out
    assert "{'phone_number': '09123456789', 'purpose': 'login'}" in out
    assert len(list(Path("recordings").glob("recording-*.wav"))) == sum(
        report["has_recording"] for report in sandbox.reports
    )


def test_snippets_run(sandbox: VoipanoSandbox) -> None:
    snippets = [
        code
        for code in _blocks("python")
        if "await " in code and "async def" not in code and "def test_" not in code
    ]
    assert len(snippets) >= 4

    async def main() -> None:
        async with sandbox.client() as client:
            [report] = [r async for r in client.call_reports(has_recording=True, max_items=1)]
            for code in snippets:
                namespace = {**_public(), "client": client, "report": report}
                flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
                result = eval(compile(code, "<docs/fa/index.md>", "exec", flags=flags), namespace)
                if result is not None:
                    await result

    anyio.run(main)
    assert Path("voicemail", "voicemail-1739558127.155.wav").is_file()


def test_results_in_comments_are_right() -> None:
    """``normalize_phone_number("...")  # '...'`` lines show what the function returns."""
    lines = re.findall(
        r"^normalize_phone_number\((.+)\)  # (.+)$", "".join(_blocks("python")), re.MULTILINE
    )
    assert len(lines) >= 3
    for argument, result in lines:
        assert voipano_async.normalize_phone_number(ast.literal_eval(argument)) == (
            ast.literal_eval(result)
        )


def test_pytest_examples_pass() -> None:
    [code] = [code for code in _blocks("python") if "def test_" in code]
    namespace: dict[str, Any] = {"__name__": "__example__"}
    exec(compile(code, "<docs/fa/index.md>", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        sandbox = VoipanoSandbox()
        with sandbox.sync_client() as client:
            test(voipano_sync_client=client, voipano_sandbox=sandbox)


def test_cli_transcript_matches_the_sandbox() -> None:
    [transcript] = [code for code in _blocks("console") if "harvest" in code]
    assert "reports     300 (30 pages) -> harvest/reports.jsonl" in transcript
    reports = VoipanoSandbox().reports
    assert len(reports) == 300
    recordings = sum(report["has_recording"] for report in reports)
    assert f"recordings  {recordings} downloaded, 0 already there" in transcript


# -- the built page ---------------------------------------------------------------------------


class _Page(HTMLParser):
    """Records, for every element, its tag, attributes and the open elements around it."""

    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
        | {"param", "source", "track", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.elements: list[tuple[str, dict[str, str | None], list[dict[str, str | None]]]] = []
        self.rtl_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes, [a for _, a in self.stack]))
        if tag not in self.VOID:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if any(a.get("dir") == "rtl" for _, a in self.stack):
            self.rtl_text.append(data)


def _classes(attributes: dict[str, str | None]) -> set[str]:
    return set((attributes.get("class") or "").split())


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.mark.built_docs
def test_built_page_prose_is_rtl(site: Path) -> None:
    page = _parse(site / "fa" / "index.html")
    rtl = [a for tag, a, _ in page.elements if a.get("dir") == "rtl"]
    assert rtl == [{"dir": "rtl", "lang": "fa"}], "one rtl block, without the markdown attribute"
    text = "".join(page.rtl_text)
    assert "شروع سریع" in text
    assert "نیم‌فاصله" in text
    assert len(PERSIAN.findall(text)) > 3000
    headings = [a.get("id") for tag, a, _ in page.elements if tag in {"h1", "h2", "h3"}]
    assert {"quickstart", "install", "errors", "paging", "sandbox", "django"} <= set(headings)


@pytest.mark.built_docs
def test_built_page_code_is_ltr(site: Path) -> None:
    page = _parse(site / "fa" / "index.html")
    pres = [(a, around) for tag, a, around in page.elements if tag == "pre"]
    assert len(pres) == len(FENCE.findall(_source()))
    for attributes, around in pres:
        rtl = [i for i, a in enumerate(around) if a.get("dir") == "rtl"]
        if not rtl:
            continue
        # Inside the rtl block, a code block must be switched back to left to right: by a
        # dir="ltr" of its own, or by the stylesheet's rule for .highlight and pre.
        inner = around[rtl[-1] + 1 :]
        assert (
            attributes.get("dir") == "ltr"
            or any(a.get("dir") == "ltr" for a in inner)
            or any("highlight" in _classes(a) for a in inner)
        ), "a code block inherits dir=rtl without an ltr override"
    stylesheets = [
        a.get("href") or ""
        for tag, a, _ in page.elements
        if tag == "link" and a.get("rel") == "stylesheet"
    ]
    assert any(href.split("?")[0].endswith("rtl.css") for href in stylesheets), stylesheets
    css = (site / "fa" / "rtl.css").read_text(encoding="utf-8")
    assert re.search(r'\.md-typeset \[dir="rtl"\] pre,[^{]*\{[^}]*direction: ltr', css)


@pytest.mark.built_docs
def test_built_english_pages_stay_ltr(site: Path) -> None:
    for name in ("index.html", "quickstart/index.html", "errors/index.html"):
        page = _parse(site / name)
        assert not [a for _, a, _ in page.elements if a.get("dir") == "rtl"], name
    nav = (site / "index.html").read_text(encoding="utf-8")
    assert "فارسی" in nav
