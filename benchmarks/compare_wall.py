"""Compare: wall time of an 8-model compare against the slowest single model.

The models ``llamacpp:m1`` … ``llamacpp:m8`` are served from a separate process
(benchmarks/_llm_proc.py, scenario ``per_model``): each streams ``--chunks`` deltas,
model ``mK`` pausing ``base + step * K`` seconds before each, so m8 is the slowest.
Measured in the same run, best of ``--repeat``:

  slowest alone   ``core.compare.compare(task, ["llamacpp:m8"])``
  all eight       ``core.compare.compare(task, [m1 … m8])`` — concurrent runs
  one by one      the eight single-model compares back to back (the serial cost)

Target (issue 7): all eight within 1.1x the slowest alone. Not a test: nothing asserts.

Run: python benchmarks/compare_wall.py [--models 8] [--chunks 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AGENTIC_FLOW_HOME", tempfile.mkdtemp(prefix="af-bench-"))

from _llm_proc import serve  # noqa: E402

from agentic_flow.core.compare.options import CallOptions
from agentic_flow.core.compare.runner import compare  # noqa: E402
from agentic_flow.core.models.catalog import ModelCatalog  # noqa: E402

TARGET = 1.1
TASK = "Write a function that reverses a string."


def timed_compare(url: str, models: list[str], catalog: ModelCatalog) -> float:
    start = time.perf_counter()
    result = asyncio.run(compare(TASK, models, call=CallOptions(base_url=url + "/v1"), catalog=catalog, store=None))
    elapsed = time.perf_counter() - start
    failed = [run.model_id for run in result.all_runs if run.status != "ok"]
    if failed:
        raise RuntimeError(f"runs failed: {failed}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--base", type=float, default=0.01, help="seconds between deltas, plus step * K")
    parser.add_argument("--step", type=float, default=0.005)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    models = [f"llamacpp:m{k}" for k in range(1, args.models + 1)]
    slowest = models[-1]
    catalog = ModelCatalog.load()
    alone, together, serial = [], [], []
    with serve("per_model", chunks=args.chunks, base=args.base, step=args.step) as url:
        timed_compare(url, [models[0]], catalog)  # warm-up: imports, first connection
        for _ in range(args.repeat):  # interleaved, so drifting machine load hits both alike
            alone.append(timed_compare(url, [slowest], catalog))
            together.append(timed_compare(url, models, catalog))
        serial = [timed_compare(url, [m], catalog) for m in models]
    a, t = min(alone), min(together)
    print(f"{args.models} models x {args.chunks} deltas; model mK waits {args.base:g}+{args.step:g}*K s per delta; "
          f"best of {args.repeat}")
    rows = [
        (f"slowest model alone ({slowest})", a, "(baseline)"),
        (f"all {args.models} concurrently", t,
         f"ratio {t / a:.2f}  (target <= {TARGET}: {'met' if t / a <= TARGET else 'NOT met'})"),
        (f"all {args.models} one after another", sum(serial), f"ratio {sum(serial) / a:.2f}"),
    ]
    for label, seconds, note in rows:
        print(f"  {label:<34}: {seconds:6.2f} s   {note}")

if __name__ == "__main__":
    main()
