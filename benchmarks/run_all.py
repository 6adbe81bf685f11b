"""Run every benchmark, then print one summary table and write ``results/summary.json``.

Each benchmark runs in its own interpreter, one after the other (never two at once: they
would compete for the machine's cores). ``--quick`` is passed through.

Exit status: 1 if a benchmark crashed or one of its correctness checks failed (ids that
differ, a corrupt download, ...); a missed performance target fails the run only with
``--strict``, because shared CI machines are too noisy to gate on timings.

Run: ``python benchmarks/run_all.py [--quick] [--strict] [--only NAME ...]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import _common

BENCHMARKS = ["overhead", "sockets", "harvest", "dataset", "decode", "download", "importtime"]


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    args = p.parse_args()
    names = args.only or BENCHMARKS
    runs: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for name in names:
        command = [sys.executable, str(_common.HERE / f"{name}.py")]
        command += ["--results-dir", str(args.results_dir)]
        if args.quick:
            command.append("--quick")
        print(f"\n$ {' '.join(command)}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(command, check=False).returncode
        seconds = time.perf_counter() - start
        runs[name] = {"exit_code": code, "seconds": round(seconds, 1)}
        if code != 0:
            rows.append(
                _common.check(f"{name}: crashed (exit {code})", None, None, None, "-", False)
            )
            continue
        results = json.loads((args.results_dir / f"{name}.json").read_text(encoding="utf-8"))
        for check in results["checks"]:
            rows.append({**check, "benchmark": name})

    print("\n== summary" + (" (quick)" if args.quick else ""))
    print(
        _common.table(
            ["metric", "unit", "ours", "reference", "ratio", "target", "met?"],
            [
                [
                    r[key]
                    for key in ("metric", "unit", "ours", "reference", "ratio", "target", "met")
                ]
                for r in rows
            ],
        )
    )
    print("\n" + ", ".join(f"{n} {r['seconds']:.0f} s" for n, r in runs.items()))
    crashed = [name for name, run in runs.items() if run["exit_code"] != 0]
    missed = [r["metric"] for r in rows if not r["met"]]
    summary = {
        "quick": bool(args.quick),
        "machine": _common.machine_info(),
        "benchmarks": runs,
        "checks": rows,
        "crashed": crashed,
        "missed": missed,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    if missed:
        print(f"targets missed: {'; '.join(missed)}")
    sys.exit(1 if crashed or (args.strict and missed) else 0)


if __name__ == "__main__":
    main()
