"""Start-up: ``agentic-flow --help`` and time to the first TUI frame, vs ``import httpx``.

Each figure is the best of ``--repeat`` fresh processes, measured in the same run as the
baseline ``python -c "import httpx"`` (the floor any provider client pays):

  baseline    python -c "import httpx"                       process start to exit
  --help      the agentic-flow console script, --help         process start to exit
  first frame python -c: build tui.app.WorkbenchApp and run it headless (120x40); the
              child prints a line from the app's first idle moment after its first
              screen is mounted (``App.run(auto_pilot=...)`` + ``pilot.pause()``);
              measured from spawn to that line, exit not included

Also lists which heavy modules ``--help`` imports (it must load neither textual nor mcp).
Each child gets a fresh AGENTIC_FLOW_HOME and workspace. Not a test: nothing asserts.

Run: python benchmarks/startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_FRAME = r"""
import sys
from agentic_flow.tui.app import WorkbenchApp

async def first_frame(pilot):
    await pilot.pause()  # the first screen is mounted and its messages processed
    sys.stdout.write("FRAME %s\n" % type(pilot.app.screen).__name__)
    sys.stdout.flush()
    pilot.app.exit()

WorkbenchApp().run(headless=True, size=(120, 40), auto_pilot=first_frame)
"""

HEAVY_AFTER_HELP = r"""
import contextlib, io, sys
sys.argv = ["agentic-flow", "--help"]
from agentic_flow.core.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
heavy = ["textual", "mcp", "httpx", "pydantic", "tiktoken", "yaml", "sqlite3", "openai", "anthropic"]
print(" ".join(m for m in heavy if m in sys.modules) or "-")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["AGENTIC_FLOW_HOME"] = tempfile.mkdtemp(prefix="af-startup-")
    return env


def run_to_exit(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def run_to_line(cmd: list[str], cwd: Path, marker: bytes) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.stdout.close()
    if proc.wait(30) != 0 or not line.startswith(marker):
        raise RuntimeError(f"{cmd[:3]} did not report {marker!r}: {line!r}")
    return elapsed, line.decode().split(maxsplit=1)[1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    script = shutil.which("agentic-flow") or str(Path(sys.executable).with_name("agentic-flow"))
    workspace = Path(tempfile.mkdtemp(prefix="af-startup-ws-"))
    base, helps, frames = [], [], []
    screen = "?"
    for _ in range(args.repeat):  # interleaved, so drifting machine load hits all three alike
        base.append(run_to_exit([sys.executable, "-c", "import httpx"], workspace))
        helps.append(run_to_exit([script, "--help"], workspace))
        elapsed, screen = run_to_line([sys.executable, "-c", FIRST_FRAME], workspace, b"FRAME")
        frames.append(elapsed)
    heavy = subprocess.run(
        [sys.executable, "-c", HEAVY_AFTER_HELP], cwd=workspace, env=_env(), capture_output=True, text=True, check=True
    ).stdout.strip()
    b, h, f = min(base), min(helps), min(frames)
    print(f"best of {args.repeat} fresh processes")
    print(f"  baseline python -c 'import httpx' : {b * 1000:7.0f} ms")
    print(f"  agentic-flow --help               : {h * 1000:7.0f} ms   ratio {h / b:.2f}")
    print(f"  first TUI frame ({screen})  : {f * 1000:7.0f} ms   ratio {f / b:.2f}")
    print(f"heavy modules loaded by --help: {heavy}")


if __name__ == "__main__":
    main()
