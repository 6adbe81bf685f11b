"""Sessions: tests on Python 3.11-3.14 (asyncio and trio), lint, typecheck, docs, floors.

Run everything with ``nox``. Interpreters are found on PATH; where pyenv is installed,
every CPython it has is made visible (through ``PYENV_VERSION``) without naming versions
here. A Python that is not installed is skipped, and the sessions that need only one Python
run on the one running nox, so ``nox`` also works on a machine with a single Python.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
# Everything the suite needs: the package with every extra, the test tools included
# (pyproject.toml's `test` extra is their one list).
SUITE = ".[cli,sandbox,otel,test]"

nox.options.sessions = ["tests", "floors", "quickstart", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False


def _expose_pyenv_pythons() -> None:
    """Let pyenv's shims answer for every installed CPython (python3.10, python3.13, ...)."""
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return
    try:
        out = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return
    versions = [v.strip() for v in out.splitlines() if re.fullmatch(r"3\.\d+\.\d+", v.strip())]
    if not versions:
        return
    # What was selected stays first (pyenv's own "python -m nox" sets PYENV_VERSION), so
    # plain "python3" keeps meaning what it meant; every other version is added after it.
    current = (
        os.environ.get("PYENV_VERSION")
        or subprocess.run(
            [pyenv, "version-name"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    )
    ordered = [v for v in current.split(":") if v]
    ordered += [v for v in reversed(versions) if v not in ordered]
    os.environ["PYENV_VERSION"] = ":".join(ordered)


_expose_pyenv_pythons()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite, every test on asyncio and on trio."""
    session.install(SUITE)
    session.run("pytest", "-m", "not slow and not built_docs", *session.posargs)


def _floors() -> list[str]:
    """``name==lowest`` for every runtime dependency (extras included) in pyproject.toml."""
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["cli"], *extras["sandbox"], *extras["otel"]]
    pins = {}
    for requirement in wanted:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*).*", requirement)
        if match is None:
            raise ValueError(f"no floor (>=) in the requirement {requirement!r}")
        pins[match[1].lower()] = match[2]
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


@nox.session
def floors(session: nox.Session) -> None:
    """The suite on the lowest versions pyproject.toml allows: every floor is seen to pass."""
    constraints = Path(session.create_tmp()) / "floors.txt"
    constraints.write_text("\n".join(_floors()) + "\n", encoding="utf-8")
    session.install("-c", str(constraints), SUITE)
    session.run("python", "-m", "pip", "list")
    # The soak included: on anyio before 4.16 it caught a socket left open by a cancelled
    # connect (about one run in four), which is why anyio's floor is 4.16.
    session.run("pytest", "-m", "not slow and not built_docs", "-q", *session.posargs)


@nox.session
def quickstart(session: nox.Session) -> None:
    """The README's first command, in a fresh virtualenv, as a new user runs it."""
    session.install(SUITE)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with raw httpx2 and pydantic (`-- --quick` for a smoke run)."""
    # Every extra: the import figure is "with every extra installed", and --help needs cli.
    session.install(".[cli,sandbox,otel]", "pydantic>=2", "opentelemetry-sdk")
    session.run(
        "python", "benchmarks/run_all.py", *session.posargs, env={"PYTHONDONTWRITEBYTECODE": ""}
    )


@nox.session
def soak(session: nox.Session) -> None:
    """The long soak: thousands of calls under injected faults; figures to benchmarks/results."""
    session.install(SUITE)
    os.makedirs("benchmarks/results", exist_ok=True)
    session.run(
        "pytest",
        "-s",
        "tests/test_soak.py",
        *session.posargs,
        env={
            "SOAK_OPERATIONS": os.environ.get("SOAK_OPERATIONS", "10000"),
            "SOAK_RESULTS": "benchmarks/results/soak.json",
        },
    )


@nox.session
def generate(session: nox.Session) -> None:
    """Rewrite the blocking client's endpoint lines after an endpoint is added or removed."""
    session.install("-e", ".")
    session.run("python", "scripts/blocking_client.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, pyright's check of the public types, tests/typing."""
    session.install(SUITE, "mypy", "pyright[nodejs]")
    session.run("mypy", "--strict", "voipano_async")
    session.run("pyright", "--verifytypes", "voipano_async", "--ignoreexternal")
    # What users' type checkers see of the blocking client, whose methods are made at run time.
    session.run("mypy", "--strict", "tests/typing")
    session.run("pyright", "tests/typing")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site strictly, then read every built page: no raw markup, whole listings."""
    session.install(SUITE, "mkdocs", "mkdocs-material", "mkdocstrings[python]")
    # The site is built once (--strict) by the tests' fixture, then read page by page.
    session.run("pytest", "-m", "built_docs", "tests/test_built_site.py", "tests/test_docs_fa.py")
