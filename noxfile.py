"""Sessions: tests on Python 3.11-3.14 (asyncio and trio), lint, typecheck, docs, floors, build.

Run everything with ``nox``. Interpreters are found on PATH; where pyenv is installed,
every CPython it has is made visible (through ``PYENV_VERSION``) without naming versions
here. A Python that is not installed is skipped, and the sessions that need only one Python
run on the one running nox, so ``nox`` also works on a machine with a single Python.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
# Everything the suite needs: the package with every extra, the test tools included
# (pyproject.toml's `test` extra is their one list).
SUITE = ".[cli,sandbox,otel,test]"
DOCS_TOOLS = ["mkdocs", "mkdocs-material", "mkdocstrings[python]"]
# Without it mkdocs-material prints a banner about MkDocs 2.0 on every build.
MKDOCS_ENV = {"NO_MKDOCS_2_WARNING": "1"}

nox.options.sessions = ["tests", "floors", "quickstart", "lint", "typecheck", "docs", "build"]
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
    wanted = [*project["dependencies"]]
    for extra in ("cli", "sandbox", "otel", "aiohttp"):
        wanted += extras[extra]
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
    session.install(".[cli,sandbox,otel,aiohttp]", "pydantic>=2", "opentelemetry-sdk")
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
    """Build the site strictly into site/ (open site/index.html), then check every built page."""
    # Editable: the reference's extensions and its tests (tests/test_reference.py) import
    # voipano_async, and must read the checkout's code, not a copy in site-packages.
    session.install("-e", SUITE)
    session.install(*DOCS_TOOLS)
    # "python -m" from the checkout, as the tests' fixture runs it: the griffe extensions
    # import voipano_async, and both builds then read the same code.
    session.run(
        *("python", "-m", "mkdocs", "build", "--strict", "--site-dir", "site"), env=MKDOCS_ENV
    )
    session.log(f"The site: {Path('site', 'index.html').resolve()}")
    # The tests' fixture builds the site once more (--strict, into a temporary folder; about
    # two seconds) and reads it page by page.
    session.run(
        "pytest",
        "-m",
        "built_docs",
        "tests/test_built_site.py",
        "tests/test_docs_fa.py",
        "tests/test_reference.py",
    )


@nox.session
def docs_serve(session: nox.Session) -> None:
    """Serve the docs on 127.0.0.1:8000, rebuilt on each change (`-- -a HOST:PORT` to move it)."""
    session.install("-e", ".", *DOCS_TOOLS)
    session.run(
        *("python", "-m", "mkdocs", "serve", "--dev-addr", "127.0.0.1:8000"),
        # docs/ and mkdocs.yml are watched anyway; the docstrings the reference shows too.
        *("--watch", "voipano_async"),
        *session.posargs,  # a later --dev-addr/-a wins
        env=MKDOCS_ENV,
    )


# What a user of the wheel relies on, as entry_points.txt spells it: (group, name) -> value.
ENTRY_POINTS = {
    ("console_scripts", "voipano"): "voipano_async.cli:main",
    ("pytest11", "voipano"): "voipano_async.testing.pytest_plugin",
}


def wheel_problems(wheel: Path) -> list[str]:
    """What is wrong with the contents of ``wheel``: one sentence a problem, none if right."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        found = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/entry_points\.txt", n)]
        info = found[0] if found else None
        entry_points = archive.read(info).decode("utf-8") if info else ""
    problems = [
        f"{wheel.name}: {name} is missing"
        for name in ("voipano_async/__init__.py", "voipano_async/py.typed")
        if name not in names
    ]
    problems += [
        f"{wheel.name}: {name} is neither the package nor its metadata"
        for name in names
        if not name.startswith("voipano_async/") and ".dist-info/" not in name
    ]
    problems += [f"{wheel.name}: {name} is compiled" for name in names if name.endswith(".pyc")]
    if info is None:
        return [*problems, f"{wheel.name}: there is no .dist-info/entry_points.txt"]
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.read_string(entry_points)
    for (group, name), value in ENTRY_POINTS.items():
        declared = parser.get(group, name, fallback=None)
        if declared is None or declared.strip() != value:
            problems.append(
                f"{wheel.name}: entry_points.txt [{group}] has {name} = {declared!r}, "
                f"not {value!r}"
            )
    return problems


def sdist_problems(sdist: Path) -> list[str]:
    """What is wrong with the contents of ``sdist``: one sentence a problem, none if right."""
    with tarfile.open(sdist) as archive:
        # Every member sits in one folder, voipano_async-<version>/.
        names = {name.partition("/")[2] for name in archive.getnames()}
    wanted = [
        "PKG-INFO",
        "pyproject.toml",
        "README.md",
        "voipano_async/__init__.py",
        "voipano_async/py.typed",
        "tests/conftest.py",
    ]
    problems = [f"{sdist.name}: {name} is missing" for name in wanted if name not in names]
    problems += [f"{sdist.name}: {name} is compiled" for name in names if name.endswith(".pyc")]
    return problems


@nox.session
def build(session: nox.Session) -> None:
    """Wheel and sdist into dist/, twine check, their contents, the wheel in a fresh venv."""
    session.install("build", "twine")
    dist = Path("dist")
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        held = sorted(path.name for path in dist.iterdir())
        session.error(f"dist/ holds {held}: one wheel and one sdist were wanted")
    wheel, sdist = wheels[0], sdists[0]
    session.run("twine", "check", "--strict", str(wheel), str(sdist))
    problems = wheel_problems(wheel) + sdist_problems(sdist)
    if problems:
        session.error("\n".join(["the built files are not what users need:", *problems]))
    session.log(f"contents checked: {wheel.name}, {sdist.name}")

    # As a user installs it: the wheel alone, with its cli extra, in a new virtualenv.
    fresh = Path(session.create_tmp()).resolve() / "fresh-venv"
    session.run("python", "-m", "venv", "--clear", str(fresh))
    bin_dir = fresh / ("Scripts" if os.name == "nt" else "bin")
    python = str(bin_dir / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    session.run(*pip, "install", "--quiet", f"{wheel.resolve()}[cli]", external=True)
    # -I: not the checkout's voipano_async, which the current folder would otherwise give.
    imported = session.run(
        *(python, "-I", "-c"),
        "import voipano_async; print(voipano_async.__version__, voipano_async.__file__)",
        external=True,
        silent=True,
    )
    version, _, where = str(imported).strip().partition(" ")
    session.log(f"import voipano_async: {version} from {where}")
    wheel_version = wheel.name.split("-")[1]
    if version != wheel_version or not Path(where).resolve().is_relative_to(fresh):
        session.error(f"the fresh virtualenv imported {version} from {where}, not {wheel.name}")
    shown = session.run(str(bin_dir / "voipano"), "--version", external=True, silent=True)
    session.log(f"voipano --version: {str(shown).strip()}")
    if wheel_version not in str(shown):
        session.error(f"voipano --version printed {str(shown).strip()!r}, not {wheel_version}")
