"""The built documentation site, read as a user reads it: no markup shown as text.

A strict MkDocs build once passed while four guide pages printed an include line
(``--8 < --"docs/examples/…"``) where their example app should have been, and the API
reference printed Sphinx roles (``:meth:`click_to_call```) as text. These tests read every
built page. They need the docs toolchain and run in the ``docs`` nox session.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.built_docs

DOCS = ROOT / "docs"
# An include line, also as a formatter may have mangled it (``--8 < --"file"``): a mangled
# one is still found here, and its listing is then missing from the page.
INCLUDE = re.compile(r'^-{2}8\s*<\s*-{2}\s*"([^"]+)"$', re.M)
# What a broken include or a raw role looks like once rendered as text.
INCLUDE_AS_TEXT = re.compile(r"-{2}8\s*<\s*-{2}")
SPHINX_ROLE = re.compile(r":(?:meth|class|func|attr|mod|exc|data|obj):`?")


class _Text(HTMLParser):
    """The page's visible text, and the text of each code block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.blocks: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        elif tag == "pre":
            self._pre += 1
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1
        elif tag == "pre":
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._pre:
            self.blocks[-1] += data


def _read(page: Path) -> _Text:
    parsed = _Text()
    parsed.feed(page.read_text(encoding="utf-8"))
    return parsed


def _pages(site: Path) -> list[Path]:
    pages = sorted(p for p in site.rglob("*.html") if p.name != "404.html")
    assert len(pages) > 20, pages
    return pages


def _built(site: Path, source: Path) -> Path:
    relative = source.relative_to(DOCS).with_suffix("")
    if relative.name == "index":
        return site / relative.parent / "index.html"
    return site / relative / "index.html"


def _snippet(spec: str) -> str:
    """What an include ``file`` or ``file:section`` brings in, as pymdownx.snippets does."""
    path, _, section = spec.partition(":")
    text = (ROOT / path).read_text(encoding="utf-8")
    if not section:
        return text
    name = re.escape(section)
    match = re.search(
        rf"^[^\n]*--8<-- \[start:{name}\][^\n]*\n(.*?)^[^\n]*--8<-- \[end:{name}\]",
        text,
        flags=re.M | re.S,
    )
    assert match, f"{spec}: no such section"
    return match[1]


def test_no_page_shows_an_include_directive_or_a_sphinx_role(site: Path) -> None:
    problems = []
    for page in _pages(site):
        text = "".join(_read(page).text)
        for pattern in (INCLUDE_AS_TEXT, SPHINX_ROLE):
            for match in pattern.finditer(text):
                around = text[max(0, match.start() - 40) : match.end() + 40]
                problems.append(f"{page.relative_to(site)}: {around!r}")
    assert not problems, "\n".join(problems)


def test_no_page_has_an_empty_code_block(site: Path) -> None:
    empty = [
        str(page.relative_to(site))
        for page in _pages(site)
        for block in _read(page).blocks
        if not block.strip()
    ]
    assert not empty, empty


@pytest.mark.parametrize(
    "source",
    sorted(p for p in DOCS.rglob("*.md") if INCLUDE.search(p.read_text(encoding="utf-8"))),
    ids=lambda p: str(p.relative_to(DOCS)),
)
def test_every_included_listing_is_shown_whole(site: Path, source: Path) -> None:
    code = "\n".join(_read(_built(site, source)).blocks)
    shown = {line.strip() for line in code.splitlines()}
    for spec in INCLUDE.findall(source.read_text(encoding="utf-8")):
        if spec == "CHANGELOG.md":
            continue  # included as prose, not as a listing
        wanted = [line.strip() for line in _snippet(spec).splitlines() if line.strip()]
        wanted = [html.unescape(line) for line in wanted if "--8<--" not in line]
        missing = [line for line in wanted if line not in shown]
        assert wanted, f"{spec} is empty"
        assert not missing, f"{source.name} lacks {len(missing)} lines of {spec}: {missing[:3]}"


def test_the_changelog_page_shows_the_changelog(site: Path) -> None:
    text = "".join(_read(site / "changelog" / "index.html").text)
    first = next(
        line.lstrip("# ").strip()
        for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    )
    assert first in text


def test_reference_examples_are_code_not_quotes(site: Path) -> None:
    """Doctest prompts under a singular "Example:" once rendered as nested quotes."""
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert "<blockquote" not in page
    code = "\n".join(_read(site / "reference" / "index.html").blocks)
    assert ">>> call = await client.secure_call(" in code


def test_the_reference_shows_every_blocking_method_with_its_parameters(site: Path) -> None:
    """Voipano's methods are made at import time; a static reading saw them as attributes."""
    from voipano_async import Voipano

    text = "".join(_read(site / "reference" / "index.html").text)
    blocking = text[text.index("voipano_async.Voipano\n") :]
    blocking = blocking[: blocking.index("voipano_async.CallReportPager")]
    assert "__init__(token=None, *, base_url=None" in blocking
    assert "call_otp(phone_number, *, purpose=None, client_ref=None, **options)" in blocking
    for name in sorted(n for n in vars(Voipano) if not n.startswith("_")):
        assert f"{name}(" in blocking, name
        assert f"The blocking form of AsyncVoipano.{name}." in blocking, name
    assert "blocking(AsyncVoipano" not in blocking


def test_the_reference_shows_values_and_no_private_base(site: Path) -> None:
    """``DEFAULT_TIMEOUT`` (cut off) stood where the value belonged, and AsyncVoipano's
    Bases listed private mixins."""
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    text = "".join(_read(site / "reference" / "index.html").text)
    start = text.index("voipano_async.AsyncVoipano\n")
    client = text[start : text.index("voipano_async.Voipano\n")]
    assert "Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0)" in client
    assert "DEFAULT_" not in text
    assert "call_otp(phone_number, *, purpose=None, client_ref=None, **options)" in client
    assert "request(method, path, *, params=None, json=None, charged=None, **options)" in client
    bases = [
        html.unescape(re.sub(r"<[^>]+>", "", found))
        for found in re.findall(
            r'class="doc doc-class-bases">\s*Bases:(.*?)</p>', page, flags=re.S
        )
    ]
    assert bases
    private = (
        "ClientSettings",
        "ChargedCalls",
        "Reads",
        "BlockingBase",
        "Model",
        "_Serialisable",
        "Endpoints",
    )
    assert not [n for line in bases for n in private if re.search(rf"\b{n}\b", line)]


def test_code_blocks_are_sized_to_fit_88_columns(site: Path) -> None:
    """The guides' code is at most 88 columns: the stylesheet that makes that fit at
    1280 px is on every page."""
    page = (site / "guides" / "fastapi" / "index.html").read_text(encoding="utf-8")
    assert "stylesheets/code.css" in page
    assert (site / "stylesheets" / "code.css").read_text().count("font-size") == 1
