"""The wheel holds one top-level package, and works beside packages named ``core``/``agents``.

Built from this checkout with the build backend the project declares (no network:
``--no-build-isolation`` uses the setuptools already installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(build)},
    )
    assert done.returncode == 0, done.stderr
    (found,) = out.glob("agentic_flow_workbench-*.whl")
    return found


def test_the_wheel_has_one_top_level_package_with_its_data(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == {"agentic_flow"}
    for data in (
        "agentic_flow/agents/coder.md",
        "agentic_flow/themes/workbench-dark.yaml",
        "agentic_flow/core/models/catalog.yaml",
        "agentic_flow/tui/app.tcss",
        "agentic_flow/tui/screens/session.tcss",
        "agentic_flow/core/local/boot.py",
    ):
        assert data in names
    assert not any(name.startswith(("agentic_flow/tests", "tests/", "benchmarks/")) for name in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "agentic-flow = agentic_flow.main:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_beside_packages_named_core_and_agents(wheel: Path, tmp_path: Path):
    """``openai-agents`` installs a top-level ``agents``; others ship ``core``: no clash."""
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target)]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True, timeout=300)
    # Installed after us, as pip would let it: if any of our code imported a top-level
    # `core` or `agents`, or read site-packages/agents, it would meet these.
    for name in ("core", "agents", "tui", "themes"):
        (target / name).mkdir()
        (target / name / "__init__.py").write_text(f"raise ImportError('this {name} is another package')\n")
    (target / "agents" / "impostor.md").write_text("---\nname: impostor\ndescription: not ours\n---\nx\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    workspace = tmp_path / "ws"
    workspace.mkdir()

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "agentic_flow", *args], cwd=workspace, env=env,
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run(
        [sys.executable, "-c", "import agentic_flow, agentic_flow.core.runtime as r; print(agentic_flow.__file__, r.__file__)"],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert where.count(str(target)) == 2  # the wheel's copy, not this checkout
    assert "run" in run("--help")
    listed = run("agents", "list")
    assert "coder" in listed and "impostor" not in listed
