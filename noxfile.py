"""Sessions: tests on Python 3.10-3.13 (asyncio and trio), lint, typecheck, docs.

Run everything with ``nox``. Interpreters are found on PATH; where pyenv is installed,
every CPython it has is made visible (through ``PYENV_VERSION``) without naming versions
here. A Python that is not installed is skipped, so ``nox`` also works on a machine with a
single Python.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
TEST_DEPS = ["pytest", "pytest-asyncio", "respx", "trio", "hypothesis", "fastapi", "aiohttp"]

nox.options.sessions = ["tests", "quickstart", "lint", "typecheck", "docs"]
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
    session.install(".[cli,sandbox]", *TEST_DEPS)
    session.run("pytest", "-m", "not slow and not built_docs", *session.posargs)


@nox.session(python=PYTHONS[-1])
def quickstart(session: nox.Session) -> None:
    """The README's first command, in a fresh virtualenv, as a new user runs it."""
    session.install(".[cli,sandbox]", *TEST_DEPS)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session(python=PYTHONS[-1])
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side with raw httpx and pydantic (`-- --quick` for a smoke run)."""
    session.install(".[sandbox]", "pydantic>=2")
    session.run(
        "python", "benchmarks/run_all.py", *session.posargs, env={"PYTHONDONTWRITEBYTECODE": ""}
    )


@nox.session(python=PYTHONS[-1])
def soak(session: nox.Session) -> None:
    """The long soak: thousands of calls under injected faults; figures to benchmarks/results."""
    session.install(".[cli,sandbox]", *TEST_DEPS)
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


@nox.session(python=PYTHONS[-1])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[-1])
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, and pyright's check of the public types."""
    session.install(".[cli,sandbox]", "mypy", "pyright[nodejs]", *TEST_DEPS)
    session.run("mypy", "--strict", "voipano_async")
    session.run("pyright", "--verifytypes", "voipano_async", "--ignoreexternal")


@nox.session(python=PYTHONS[-1])
def docs(session: nox.Session) -> None:
    """Build the documentation site, failing on any warning; check the Persian page."""
    session.install(
        ".[cli,sandbox]", *TEST_DEPS, "mkdocs", "mkdocs-material", "mkdocstrings[python]"
    )
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", os.path.join(session.create_tmp(), "site")
    )
    session.run("pytest", "-m", "built_docs", "tests/test_docs_fa.py")
