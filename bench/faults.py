"""Every fault scenario an operator meets, run for real, with figures; one JSON line at the end.

    python bench/faults.py            # full
    python bench/faults.py --quick    # smaller loads, within 3 minutes
    python bench/faults.py --only listener_restart --only redis_outage

Each scenario lives in bench/fault_scenarios/<name>.py and returns its figures (see that
package's docstring). Progress goes to stderr; stdout carries one line per scenario and the
summary JSON line last.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # kiss, when run from anywhere

import fault_scenarios
from fault_scenarios import FIGURE_KEYS, Figures


def scenario_names() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(fault_scenarios.__path__))


def run_one(name: str, quick: bool) -> Figures:
    module = importlib.import_module(f"fault_scenarios.{name}")
    started = time.monotonic()
    try:
        figures: Figures = module.run(quick)
    except Exception as error:  # one failing scenario must not hide the others
        traceback.print_exc()
        figures = {"scenario": name, "error": f"{type(error).__name__}: {error}"}
        figures["targets_met"] = False
    figures.setdefault("scenario", name)
    for key in FIGURE_KEYS:
        figures.setdefault(key, None)
    figures["wall_seconds"] = round(time.monotonic() - started, 1)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads, within 3 minutes")
    parser.add_argument("--only", action="append", choices=scenario_names(), help="run just these")
    options = parser.parse_args()
    results = []
    for name in options.only or scenario_names():
        print(f"bench/faults: {name}...", file=sys.stderr, flush=True)
        figures = run_one(name, options.quick)
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items() if k != "scenario"))
        results.append(figures)
    summary = {
        "quick": options.quick,
        "scenarios": results,
        "targets_met": all(bool(figures["targets_met"]) for figures in results),
    }
    print(json.dumps(summary))
    return 0 if summary["targets_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
