"""mypy reports no errors on the whole package (core, tui and the entry point).

The folders install as ``agentic_flow.*`` through package-dir mapping, which mypy cannot
follow through the editable install's import hook; so the test lays the package out as
symlinks in a temp dir (the same tree the wheel holds) and checks that.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_tree(dest: Path) -> Path:
    """``dest/agentic_flow`` laid out as the wheel holds it, as symlinks to the sources."""
    package = dest / "agentic_flow"
    package.mkdir(parents=True)
    for source in (ROOT / "launcher").glob("*.py"):
        (package / source.name).symlink_to(source)
    for name in ("core", "tui", "agents", "themes"):
        (package / name).symlink_to(ROOT / name, target_is_directory=True)
    return dest


def test_mypy_reports_no_errors(tmp_path):
    tree = package_tree(tmp_path / "src")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "-p", "agentic_flow"],
        cwd=tree, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
