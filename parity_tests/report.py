"""`python -m parity_tests [--json FILE] [--only TEXT]`: the parity comparisons as a table, outside pytest.

Runs `checks.report_cases()` and `losses.report_cases()` and prints one row per comparison: check,
JAX value, PyTorch value, abs diff, rel diff, tolerance, pass/fail. Exits 1 if any comparison fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time


def _fmt(value) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    text = " ".join(str(value).split())
    return text if len(text) <= 28 else text[:25] + "..."


def format_table(rows) -> str:
    header = ("check", "JAX", "PyTorch", "abs diff", "rel diff", "tolerance", "result")
    lines = [
        (r.check, _fmt(r.jax), _fmt(r.torch), _fmt(r.abs_diff), _fmt(r.rel_diff), r.tolerance, ("pass" if r.passed else "FAIL") + (f"  {r.detail}" if r.detail else ""))
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header) - 1)]
    render = lambda line: "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1]
    return "\n".join([render(header), render(tuple("-" * w for w in widths) + ("------",)), *map(render, lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity_tests", description="JAX vs PyTorch reference parity report")
    parser.add_argument("--json", metavar="FILE", help="also write every comparison to FILE as JSON")
    parser.add_argument("--only", metavar="TEXT", help="run only the cases whose name contains TEXT (e.g. 'forward')")
    args = parser.parse_args(argv)

    from . import checks, losses  # imports JAX and torch: keep `--help` fast

    rows = []
    start = time.perf_counter()
    for case in [*checks.report_cases(), *losses.report_cases()]:
        if args.only and args.only not in case.name:
            continue
        print(f"running {case.name} ...", file=sys.stderr, flush=True)
        rows.extend(case.run())
    print(format_table(rows))
    failed = [row for row in rows if not row.passed]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} comparisons pass ({time.perf_counter() - start:.0f} s)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([{**dataclasses.asdict(row), "jax": _json(row.jax), "torch": _json(row.torch)} for row in rows], handle, indent=2)
    return 1 if failed else 0


def _json(value):
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
