"""What users see of the package as a whole: its public names, its imports, its CI."""

from __future__ import annotations

import ast
import inspect
import re
import typing
from pathlib import Path

import attrs

import voipano_async
from voipano_async.testing import _endpoints, _vendor

from . import samples

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "voipano_async"


def test_every_public_name_is_exported_documented_and_shown_as_public() -> None:
    for name in voipano_async.__all__:
        if name == "__version__":
            continue
        obj = getattr(voipano_async, name)
        assert obj.__module__ == "voipano_async", name
        assert inspect.getdoc(obj), f"{name} has no docstring"


def test_every_public_name_is_in_the_reference() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text()
    for name in voipano_async.__all__:
        assert f"voipano_async.{name}" in reference, name


def test_anyio_only() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"asyncio", "sniffio", "trio"}, (path, name)


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quickstart, flags=re.S)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands, "the Quickstart shows its commands"
    assert commands[-1] in ci


def test_py_typed_ships() -> None:
    assert (PACKAGE / "py.typed").exists()


def test_everything_a_method_returns_can_be_imported_by_name() -> None:
    seen: set[type] = set()
    todo = list(samples.methods().values())
    while todo:
        hint = todo.pop()
        todo.extend(typing.get_args(hint))
        if not isinstance(hint, type) or hint in seen:
            continue
        seen.add(hint)
        if hint.__module__.startswith("voipano_async"):
            assert getattr(voipano_async, hint.__name__, None) is hint, hint
            assert hint.__name__ in voipano_async.__all__, hint
        if attrs.has(hint):
            todo.extend(typing.get_type_hints(hint).values())
    assert voipano_async.CallProvider in seen  # nested models are reached too


def test_the_endpoints_page_lists_every_method_with_its_price_and_result() -> None:
    page = (ROOT / "docs" / "endpoints.md").read_text()
    rows = re.findall(
        r"^\| \[`(\w+)`\]\(#(\w+)\) \| `(\w+) (/[^`]*)`[^|]* \| (\d+) \| `([\w.]+)` \|$",
        page,
        flags=re.M,
    )
    methods = samples.methods()
    assert {row[0] for row in rows} == set(methods), "the table atop docs/endpoints.md"
    for name, anchor, _verb, path, price, returns in rows:
        assert anchor == name, name
        assert f"### `{name}`" in page, name
        assert int(price) == _vendor.PRICES.get(path, _vendor.FREE["charged"]), name
        assert returns.rsplit(".", 1)[-1] == methods[name].__name__, name


def test_the_testing_page_lists_every_route_the_sandbox_answers() -> None:
    page = (ROOT / "docs" / "testing.md").read_text()
    listed = set(re.findall(r"^\| `(GET|POST) (/[^`]+)` \|", page, flags=re.M))
    routes = {(method, path.replace("/*", "/{id}")) for method, path in _endpoints.ROUTES}
    assert listed == routes, "the sandbox's endpoint table in docs/testing.md"
