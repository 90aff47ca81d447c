"""Start-up: the first TUI frame vs a minimal Textual app; ``--help`` vs ``import httpx``.

Rounds are interleaved (each round runs every command once, in a fresh process with a
fresh AGENTIC_FLOW_HOME); each figure is the median (min–max) over ``--repeat`` rounds:

  minimal app   python -c: a Textual app of one Static, run headless (120x40), that
                prints a line once its first screen is painted (a ``call_after_refresh``
                queued in ``on_mount``) and exits — the floor
  first frame   the same moment for the workbench, opened as the console script opens it
                (``agentic_flow.main.open_workbench``, headless): its first screen
                is the loading screen, painted before the core's heavy imports and the
                catalogs
  catalog ready the same app, until ``WorkbenchApp.ready`` (catalogs loaded in the
                start-up worker, the agent catalog screen shown)
  import httpx  python -c "import httpx" (the floor any provider client pays)
  --help        the agentic-flow console script, --help, to exit

Ratios: first frame / minimal app, --help / import httpx.

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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import med, require_test_install  # noqa: E402

# Both apps report from a ``call_after_refresh`` queued in their ``on_mount``: the first
# screen has been composed, laid out and painted.
FIRST_FRAME = r"""
import argparse, sys
from agentic_flow.main import open_workbench as open_from_cli  # what the console script runs
from agentic_flow.tui.app import WorkbenchApp  # the module it opens

start_loading, open_workbench = WorkbenchApp._start_loading, WorkbenchApp._open_workbench

def first_frame(self):
    sys.stdout.write("FRAME %s\n" % type(self.screen).__name__)
    sys.stdout.flush()
    start_loading(self)

def opened(self, replace=False):
    open_workbench(self, replace)
    self.call_after_refresh(ready, self)

def ready(self):
    sys.stdout.write("READY %s\n" % type(self.screen).__name__)
    sys.stdout.flush()
    self.exit()

run = WorkbenchApp.run
WorkbenchApp._start_loading, WorkbenchApp._open_workbench = first_frame, opened
WorkbenchApp.run = lambda self, **kw: run(self, headless=True, size=(120, 40))
flags = argparse.Namespace(agent=None, model=None, agents_dir=None, base_url=None, workspace=None)
sys.exit(open_from_cli(flags))
"""

MINIMAL_APP = r"""
import sys
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("hello")

    def on_mount(self):
        self.call_after_refresh(self.first_frame)

    def first_frame(self):
        sys.stdout.write("FRAME %s\n" % type(self.screen).__name__)
        sys.stdout.flush()
        self.exit()

Minimal().run(headless=True, size=(120, 40))
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

HEAVY_AT_FIRST_FRAME = r"""
import sys
from agentic_flow.tui.app import WorkbenchApp
heavy = ["mcp", "httpx", "pydantic", "tiktoken", "yaml", "sqlite3", "agentic_flow.core.config",
         "agentic_flow.core.models.catalog", "agentic_flow.core.runtime"]
seen = []

def probe(self):  # the first frame is painted, the loader not yet started: what is imported?
    seen.extend(m for m in heavy if m in sys.modules)
    self.exit()

WorkbenchApp._start_loading = probe
WorkbenchApp().run(headless=True, size=(120, 40))
print(" ".join(seen) or "-")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["AGENTIC_FLOW_HOME"] = tempfile.mkdtemp(prefix="af-startup-")
    return env


def run_to_exit(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def run_to_line(cmd: list[str], cwd: Path, marker: bytes, until: bytes | None = None) -> tuple[float, str, float]:
    """Seconds from spawn to the ``marker`` line (and to the ``until`` line, if asked)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    later = 0.0
    if until is not None:
        second = proc.stdout.readline()
        later = time.perf_counter() - start
        if not second.startswith(until):
            line = second
    proc.stdout.close()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.wait(30) != 0 or not line.startswith(marker):
        raise RuntimeError(f"{cmd[:3]} did not report {marker!r}: {line!r}\n{err[-2000:]}")
    return elapsed, line.decode().split(maxsplit=1)[1].strip(), later


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    require_test_install()
    script = shutil.which("agentic-flow") or str(Path(sys.executable).with_name("agentic-flow"))
    workspace = Path(tempfile.mkdtemp(prefix="af-startup-ws-"))
    base, helps, minimal, frames, ready = [], [], [], [], []
    screen = "?"
    for _ in range(args.repeat):  # interleaved, so drifting machine load hits all alike
        minimal.append(run_to_line([sys.executable, "-c", MINIMAL_APP], workspace, b"FRAME")[0])
        elapsed, screen, later = run_to_line([sys.executable, "-c", FIRST_FRAME], workspace, b"FRAME", b"READY")
        frames.append(elapsed)
        ready.append(later)
        base.append(run_to_exit([sys.executable, "-c", "import httpx"], workspace))
        helps.append(run_to_exit([script, "--help"], workspace))
    heavy = subprocess.run(
        [sys.executable, "-c", HEAVY_AFTER_HELP], cwd=workspace, env=_env(), capture_output=True, text=True, check=True
    ).stdout.strip()
    before_frame = subprocess.run(
        [sys.executable, "-c", HEAVY_AT_FIRST_FRAME], cwd=workspace, env=_env(), capture_output=True, text=True,
        check=True,
    ).stdout.strip()
    ms = [1000 * x for x in minimal]
    print(f"{args.repeat} interleaved rounds of fresh processes, median (min–max)")
    print(f"  minimal Textual app, first frame  : {med(ms)} ms")
    print(f"  workbench first frame ({screen}) : {med([1000 * x for x in frames])} ms   "
          f"ratio {med([f / m for f, m in zip(frames, minimal)])}  (target <= 1.3)")
    print(f"  workbench catalog ready           : {med([1000 * x for x in ready])} ms   "
          f"ratio {med([r / m for r, m in zip(ready, minimal)])}")
    print(f"  python -c 'import httpx'          : {med([1000 * x for x in base])} ms")
    print(f"  agentic-flow --help               : {med([1000 * x for x in helps])} ms   "
          f"ratio {med([h / b for h, b in zip(helps, base)])}")
    print(f"heavy modules loaded by --help: {heavy}")
    print(f"heavy modules loaded at the workbench's first frame: {before_frame}")


if __name__ == "__main__":
    main()
