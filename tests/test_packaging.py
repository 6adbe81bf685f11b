"""What users see of the package as a whole: its public names, its imports, its CI."""

from __future__ import annotations

import ast
import configparser
import inspect
import re
import subprocess
import sys
import tomllib
import typing
import zipfile
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


def nox_sessions() -> tuple[set[str], list[str]]:
    """The noxfile's session names and its default sessions, read without nox installed."""
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    defaults: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                target = call.func if call else decorator
                if ast.unparse(target) == "nox.session":
                    given = [k.value for k in (call.keywords if call else []) if k.arg == "name"]
                    names.add(ast.literal_eval(given[0]) if given else node.name)
        elif isinstance(node, ast.Assign):
            targets = [ast.unparse(target) for target in node.targets]
            if targets == ["nox.options.sessions"]:
                defaults = ast.literal_eval(node.value)
    return names, defaults


def test_nox_offers_every_session_the_readme_names() -> None:
    names, _ = nox_sessions()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`nox -s ([^`\s]+)", readme))
    assert {"build", "docs", "docs_serve", "tests-3.12"} <= named, "the README's Development"
    for name in named:
        # tests-3.12 is the session tests on one Python.
        assert re.sub(r"-3\.\d+$", "", name) in names, f"README runs nox -s {name}"


def test_plain_nox_builds_the_package_and_does_not_serve_the_docs() -> None:
    names, defaults = nox_sessions()
    assert {"build", "docs", "docs_serve"} <= names
    assert set(defaults) <= names, "nox.options.sessions names a session that is not there"
    assert "build" in defaults, "CI runs plain nox: the wheel and sdist are checked there"
    assert "docs_serve" not in defaults, "serving never ends: plain nox must not start it"


def test_docs_serve_serves_where_the_readme_says() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    serve = noxfile.split("def docs_serve(", 1)[1].split("\ndef ", 1)[0]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "http://127.0.0.1:8000" in readme
    assert '"--dev-addr", "127.0.0.1:8000"' in serve
    assert '"--watch", "voipano_async"' in serve, "the docstrings the reference shows"
    assert "*session.posargs" in serve, "nox -s docs_serve -- -a 127.0.0.1:8001"


def test_what_the_sessions_write_is_ignored_by_git() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"site/", "dist/", ".nox/"} <= set(ignored)


def test_the_wheel_carries_the_types_the_command_and_the_pytest_plugin(tmp_path: Path) -> None:
    """The wheel as built from this checkout (the build nox session checks the same and more)."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp_path.glob("voipano_async-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (info,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = configparser.ConfigParser(delimiters=("=",))
        entry_points.read_string(archive.read(info).decode("utf-8"))
    assert "voipano_async/py.typed" in names, "type checkers see the package as typed"
    assert all(n.startswith("voipano_async/") or ".dist-info/" in n for n in names), names
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    plugin = project["entry-points"]["pytest11"]
    assert project["scripts"] == {"voipano": "voipano_async.cli:main"}
    assert plugin == {"voipano": "voipano_async.testing.pytest_plugin"}
    assert dict(entry_points["console_scripts"]) == project["scripts"], "the voipano command"
    assert dict(entry_points["pytest11"]) == plugin, "the pytest plugin"
