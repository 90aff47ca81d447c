"""Agents and model scripts for delegation tests (core and TUI).

The scripted server tells the test agents apart by their system prompt (``I am LEAD.``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.llm_server import Reply

__all__ = ["AGENTS", "write_agents", "who", "delegate"]

AGENTS = {
    "lead": "tools: read, grep, glob, write, edit, agent(reviewer, tester, looper, deep)\n",
    "reviewer": "tools: read, grep\nmodel: llamacpp:model-b\n",
    "tester": "tools: read, write, edit\nmodel: llamacpp:model-c\n",
    # looper may call anyone, itself included (the cycle check must stop that)
    "looper": "tools: read, agent\n",
    "deep": "tools: read, agent(deeper)\n",
    "deeper": "tools: read, agent(deepest)\n",
    "deepest": "tools: read, agent(lead)\n",
}


def write_agents(folder: Path, agents: dict[str, str] = AGENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, front in agents.items():
        (folder / f"{name}.md").write_text(
            f"---\nname: {name}\ndescription: the {name} agent\n{front}---\nI am {name.upper()}.\n", encoding="utf-8"
        )
    return folder


def who(req: Any) -> str | None:
    """Which test agent sent ``req`` (from its system prompt)."""
    system = next((m.get("content") for m in req.messages if m.get("role") == "system"), "") or ""
    for line in system.splitlines():
        if line.startswith("I am ") and line.endswith("."):
            return line[5:-1].lower()
    return None


def delegate(*calls: tuple[str, str, str], model: str | None = None) -> Reply:
    """A reply delegating ``(call_id, agent, prompt)`` calls."""
    out = []
    for call_id, agent, prompt in calls:
        args: dict[str, Any] = {"description": f"{agent} task", "prompt": prompt, "subagent_type": agent}
        if model:
            args["model"] = model
        out.append((call_id, "agent", args))
    return Reply.tool_calls(out)
