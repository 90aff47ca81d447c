"""The container: build the Dockerfile, run ``agentic-flow run`` headless in it.

Needs a Docker daemon (and network for the image build's ``pip``); skipped with the
reason otherwise. The scripted LLM server runs in this process on 127.0.0.1 and the
container joins the host network to reach it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.llm_server import Reply, llm_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "agentic-flow-test:latest"
MODEL = "llamacpp:test-model"


def _docker_unavailable() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return "the docker command is not installed"
    try:
        probe = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker info` failed: {exc}"
    if probe.returncode != 0:
        lines = (probe.stderr or probe.stdout).strip().splitlines()
        why = next((line.strip() for line in lines if "error" in line.lower() or "cannot" in line.lower()), "")
        return "no Docker daemon available (`docker info` failed" + (f": {why}" if why else "") + ")"
    return None


_UNAVAILABLE = _docker_unavailable()
pytestmark = [
    pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or ""),
    pytest.mark.timeout(1800),
]


@pytest.fixture(scope="module")
def image() -> str:
    build = subprocess.run(["docker", "build", "-t", IMAGE, str(ROOT)], capture_output=True, text=True, timeout=1500)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return IMAGE


def docker_run(image: str, *args: str, workspace: Path | None = None, name: str | None = None,
               entrypoint: str | None = None) -> list[str]:
    cmd = ["docker", "run", "--rm", "--init", "--network", "host"]
    if name:
        cmd += ["--name", name]
    if workspace is not None:
        cmd += ["-v", f"{workspace}:/workspace"]
    if entrypoint:
        cmd += ["--entrypoint", entrypoint]
    return [*cmd, image, *args]


def test_runs_as_a_non_root_user(image):
    uid = subprocess.run(docker_run(image, "-u", entrypoint="id"), capture_output=True, text=True, timeout=120)
    assert uid.returncode == 0 and uid.stdout.strip() not in ("", "0")
    help_ = subprocess.run(docker_run(image, "--help"), capture_output=True, text=True, timeout=120)
    assert help_.returncode == 0 and "--approve" in help_.stdout


def test_headless_run_denies_what_would_ask(image, llm_server, tmp_path):
    tmp_path.chmod(0o777)  # the container's user may write here (it must not get the chance)
    llm_server.enqueue(
        Reply.tool_calls([("c1", "bash", {"command": "touch /workspace/pwned"})]),
        Reply.text("I was not allowed to run it."),
    )
    run = subprocess.run(
        docker_run(image, "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "touch a file",
                   workspace=tmp_path),
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "I was not allowed to run it.\n"
    assert "denied by policy:deny" in run.stderr
    assert not (tmp_path / "pwned").exists()
    assert "permission denied" in llm_server.requests[1].tool_results()[0][1]


def test_docker_stop_keeps_the_partial_answer(image, llm_server, tmp_path):
    llm_server.enqueue(Reply.text([f"w{i} " for i in range(600)], delay_per_chunk=0.05))
    name = f"af-test-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        docker_run(image, "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "talk", "--no-tools",
                   name=name),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        llm_server.wait_for_requests(1, timeout=120)
        time.sleep(2)  # some of the answer has streamed
        subprocess.run(["docker", "stop", "-t", "20", name], capture_output=True, timeout=60)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err  # SIGTERM handled like Ctrl-C, not a kill
    assert out.startswith("w0 w1 w2 ") and "w599" not in out
    assert "stop cancelled" in err
