"""What users see of the package as a whole: its public names, its imports, its CI."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import voipano_async

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
