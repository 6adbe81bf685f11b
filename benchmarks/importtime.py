"""Import time of ``voipano_async``, by ``python -X importtime -c "import voipano_async"``.

Each run is a fresh interpreter in an empty working directory. Bytecode is cached (as
after ``pip install``) in a private ``-X pycache_prefix`` directory, filled by one
discarded warm-up run, so neither the repository nor site-packages is written to and
``PYTHONDONTWRITEBYTECODE`` in the environment does not turn every run into a compile.

Run: ``python benchmarks/importtime.py [--quick]``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

NAME = "importtime"
MODULE = "voipano_async"
RUNS = 5
TARGET_MS = 100.0
HELP_TARGET_MS = 250.0

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse(stderr: str) -> list[dict[str, Any]]:
    rows = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            self_us, cumulative_us, indent, name = match.groups()
            rows.append(
                {
                    "module": name,
                    "self_us": int(self_us),
                    "cumulative_us": int(cumulative_us),
                    "depth": (len(indent) - 1) // 2,
                }
            )
    return rows


# What is timed, and the module whose line gives the figure. Legacy httpx imported its
# command line (click, rich, pygments) whenever those were installed, as they are with the
# SDK's ``cli`` extra; httpx2 loads it only on first use of ``httpx2.main``. Blocking click
# shows the import as a plain ``pip install`` sees it, so a regression there shows up.
SCENARIOS = {
    "import voipano_async": (MODULE, f"import {MODULE}"),
    "import httpx2 (reference)": ("httpx2", "import httpx2"),
    "import voipano_async, click not installed": (
        MODULE,
        f"import sys; sys.modules['click'] = None; import {MODULE}",
    ),
    "import httpx2, click not installed (reference)": (
        "httpx2",
        "import sys; sys.modules['click'] = None; import httpx2",
    ),
}


def one_run(cwd: str, prefix: str, code: str) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    command = [sys.executable, "-X", "importtime", "-X", f"pycache_prefix={prefix}"]
    command += ["-c", code]
    out = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return parse(out.stderr)


def help_command() -> list[str]:
    """``voipano --help``: the console script beside this Python, else ``-m``."""
    script = Path(sys.executable).with_name("voipano")
    if script.exists():
        return [str(script), "--help"]
    return [sys.executable, "-m", "voipano_async.cli", "--help"]


def timed_run(cwd: str, prefix: str, command: list[str]) -> float:
    """Wall milliseconds of one fresh process running ``command`` (bytecode cached)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["PYTHONPYCACHEPREFIX"] = prefix
    start = time.perf_counter()
    out = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    elapsed = (time.perf_counter() - start) * 1000
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return elapsed


def own_block(rows: list[dict[str, Any]], module: str) -> list[dict[str, Any]]:
    """The lines of the top-level import of ``module``: it and all it imported first.

    ``-X importtime`` prints a module after the modules it imported, indented deeper;
    the interpreter's startup imports (encodings, site) come before.
    """
    end = next(
        i
        for i in range(len(rows) - 1, -1, -1)
        if rows[i]["module"] == module and rows[i]["depth"] == 0
    )
    first = end
    while first > 0 and rows[first - 1]["depth"] > 0:
        first -= 1
    return rows[first : end + 1]


def main() -> None:
    args = _common.parser(__doc__.splitlines()[0]).parse_args()
    runs = 3 if args.quick else RUNS
    _common.header(
        f"importtime: {runs} fresh interpreters per import, wall time by -X importtime",
        args.quick,
    )
    results: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in SCENARIOS}
    with tempfile.TemporaryDirectory(prefix="voipano-importtime-") as tmp:
        cwd = os.path.join(tmp, "cwd")
        os.mkdir(cwd)
        prefix = os.path.join(tmp, "pycache")
        one_run(cwd, prefix, f"import {MODULE}")  # warm-up: fills the bytecode cache
        helps: list[float] = []
        starts: list[float] = []
        timed_run(cwd, prefix, help_command())  # warm-up, the same for the command line
        for _ in range(runs):
            for name, (_module, code) in SCENARIOS.items():
                results[name].append(one_run(cwd, prefix, code))
            helps.append(timed_run(cwd, prefix, help_command()))
            starts.append(timed_run(cwd, prefix, [sys.executable, "-c", "pass"]))

    figures: dict[str, Any] = {"runs": runs, "scenarios": {}}
    figures["help"] = {
        "command": " ".join(help_command()),
        "wall_ms": _common.summarize(helps),
        "interpreter_start_ms": _common.summarize(starts),
    }
    for name, (module, _code) in SCENARIOS.items():
        totals = [own_block(rows, module)[-1]["cumulative_us"] / 1000 for rows in results[name]]
        figures["scenarios"][name] = {"module": module, "cumulative_ms": _common.summarize(totals)}
    ours = figures["scenarios"]["import voipano_async"]["cumulative_ms"]
    median = ours["median"]
    totals = ours["samples"]
    median_run = results["import voipano_async"][
        min(range(runs), key=lambda i: abs(totals[i] - median))
    ]
    ours_rows = own_block(median_run, MODULE)
    figures["modules_imported"] = len(ours_rows)
    figures["top_cumulative"] = sorted(ours_rows, key=lambda r: r["cumulative_us"], reverse=True)[
        :10
    ]
    figures["top_self"] = sorted(ours_rows, key=lambda r: r["self_us"], reverse=True)[:10]
    figures["own_modules"] = sorted(
        (r for r in ours_rows if r["module"].startswith(MODULE)),
        key=lambda r: r["self_us"],
        reverse=True,
    )
    figures["own_modules_self_ms"] = sum(r["self_us"] for r in figures["own_modules"]) / 1000
    by_package: dict[str, int] = {}
    for r in ours_rows:
        root = r["module"].split(".")[0]
        by_package[root] = by_package.get(root, 0) + r["self_us"]
    figures["self_ms_by_package"] = {
        name: us / 1000 for name, us in sorted(by_package.items(), key=lambda kv: -kv[1])
    }

    print()
    print(
        _common.table(
            ["import", "best ms", "median ms", "runs (ms)"],
            [
                [
                    name,
                    f["cumulative_ms"]["best"],
                    f["cumulative_ms"]["median"],
                    ", ".join(f"{t:.0f}" for t in f["cumulative_ms"]["samples"]),
                ]
                for name, f in figures["scenarios"].items()
            ],
        )
    )
    help_ms = figures["help"]["wall_ms"]
    start_ms = figures["help"]["interpreter_start_ms"]
    print(
        f"   voipano --help: {help_ms['median']:.0f} ms median wall time (best "
        f"{help_ms['best']:.0f}; python -c pass: {start_ms['median']:.0f} ms)"
    )
    print(
        f"   {len(ours_rows)} modules imported; voipano_async's own modules: "
        f"{figures['own_modules_self_ms']:.1f} ms of own time"
    )
    print()
    print("own time by top-level package (the median run), top 12:")
    print(
        _common.table(
            ["package", "self ms", "share"],
            [
                [name, ms, f"{ms / median:.0%}"]
                for name, ms in list(figures["self_ms_by_package"].items())[:12]
            ],
        )
    )
    for key, title in (
        ("top_cumulative", "top 10 by cumulative time (the median run)"),
        ("top_self", "top 10 by own time (the median run)"),
    ):
        print()
        print(f"{title}:")
        print(
            _common.table(
                ["module", "depth", "cumulative ms", "self ms"],
                [
                    [
                        "  " * r["depth"] + r["module"],
                        r["depth"],
                        r["cumulative_us"] / 1000,
                        r["self_us"] / 1000,
                    ]
                    for r in figures[key]
                ],
            )
        )
    httpx_ms = figures["scenarios"]["import httpx2 (reference)"]["cumulative_ms"]["median"]
    checks = [
        _common.check(
            "import voipano_async",
            median,
            httpx_ms,
            median / httpx_ms,
            f"<= {TARGET_MS:g} ms",
            median <= TARGET_MS,
            unit="ms, median",
        ),
        _common.check(
            "voipano --help",
            help_ms["median"],
            start_ms["median"],
            None,
            f"<= {HELP_TARGET_MS:g} ms",
            help_ms["median"] <= HELP_TARGET_MS,
            unit="ms wall, median; reference: python -c pass",
        ),
    ]
    _common.print_checks(checks)
    _common.write_results(NAME, args, figures, checks)


if __name__ == "__main__":
    main()
