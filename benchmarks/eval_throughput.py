"""Eval throughput: cells per second with 16 concurrent scripted models vs the slowest cell alone.

The models ``llamacpp:m1`` … ``llamacpp:m16`` are served from a separate process
(benchmarks/_llm_proc.py, scenario ``per_model``): each streams ``--chunks`` deltas,
model ``mK`` pausing ``base + step * K`` seconds before each, so m16 is the slowest.
The suite has one task (the coder agent, its tools offered; the models answer in one
turn), so the matrix is 16 cells, each a full eval cell: an isolated copy of an empty
workspace with its git baseline, ``Runtime.open``, the agent run, the diff, the check,
the cell stored in SQLite.

Measured in the same run, rounds interleaved, each with a fresh eval store (no cache):

  slowest alone   ``EvalRunner(suite, ["llamacpp:m16"])`` — the baseline
  all sixteen     ``EvalRunner(suite, [m1 … m16], max_concurrency=16)``

Ideal: sixteen cells in the time of the slowest one, i.e. 16 / T(alone) cells/s. The
figure is (cells/s achieved) / (ideal cells/s) = T(alone) / T(all); target >= 0.9.
Not a test: nothing asserts.

Run: python benchmarks/eval_throughput.py [--models 16] [--chunks 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AGENTIC_FLOW_HOME", tempfile.mkdtemp(prefix="af-bench-"))

from _llm_proc import serve  # noqa: E402

from agentic_flow.core.evals.runner import EvalRunner  # noqa: E402
from agentic_flow.core.evals.suite import parse_suite  # noqa: E402
from agentic_flow.core.models.catalog import ModelCatalog  # noqa: E402
from agentic_flow.core.store.database import Store  # noqa: E402

TARGET = 0.9
SUITE = """\
name: throughput
tasks:
  - id: stream
    prompt: Say the numbers.
    checks:
      - answer_contains: " t1"
"""


def timed_eval(url: str, models: list[str], catalog: ModelCatalog, scratch: Path) -> float:
    suite = parse_suite(SUITE, scratch / "suite.yaml")
    db = Path(tempfile.mkdtemp(dir=scratch)) / "evals.db"
    with Store(db) as store:
        runner = EvalRunner(suite, models, max_concurrency=len(models), store=store, catalog=catalog,
                            base_url=url + "/v1", repo_dir=scratch)
        start = time.perf_counter()
        header, cells = asyncio.run(runner.run())
        elapsed = time.perf_counter() - start
    failed = [c.model_id for c in cells if not c.passed]
    if header.status != "complete" or failed or len(cells) != len(models):
        raise RuntimeError(f"cells did not all pass: status {header.status}, failed {failed}")
    return elapsed


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--base", type=float, default=0.05, help="seconds between deltas, plus step * K")
    parser.add_argument("--step", type=float, default=0.004)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    models = [f"llamacpp:m{k}" for k in range(1, args.models + 1)]
    slowest = models[-1]
    catalog = ModelCatalog.load()
    scratch = Path(tempfile.mkdtemp(prefix="af-bench-eval-"))
    alone: list[float] = []
    together: list[float] = []
    with serve("per_model", chunks=args.chunks, base=args.base, step=args.step) as url:
        timed_eval(url, [models[0]], catalog, scratch)  # warm-up: imports, first connection, git
        for _ in range(args.repeat):  # interleaved, so drifting machine load hits both alike
            alone.append(timed_eval(url, [slowest], catalog, scratch))
            together.append(timed_eval(url, models, catalog, scratch))
    a, t = statistics.median(alone), statistics.median(together)
    ideal = args.models / a
    achieved = args.models / t
    print(f"{args.models} cells (1 task x {args.models} models); model mK streams {args.chunks} deltas, "
          f"{args.base:g}+{args.step:g}*K s apart; {args.repeat} interleaved rounds; server in its own process")
    print(f"  slowest cell alone ({slowest}) : {spread(alone)}   (baseline)")
    print(f"  all {args.models} cells at once       : {spread(together)}")
    ratio = achieved / ideal
    print(f"  throughput: {achieved:.2f} cells/s of an ideal {ideal:.2f} cells/s -> {ratio:.2f} of ideal "
          f"(target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'}); "
          f"per round {min(a_ / t_ for a_, t_ in zip(alone, together)):.2f}..{max(a_ / t_ for a_, t_ in zip(alone, together)):.2f}")


if __name__ == "__main__":
    main()
