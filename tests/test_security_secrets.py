"""Configured keys, whatever their variable's name, and the forms a command turns them into,
never leave the process (issue 11 class 6, issue 10 item 7), through ``agentic-flow run``.

The key reaches the tool output through a file in the workspace (not the environment),
so these tests hold whatever environment commands are given. Every place a key could
end up is checked: what the model is sent, stdout (``--json``), stderr, the database
(messages, audit rows) and the audit export.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import yaml

from agentic_flow.core.cli import main
from agentic_flow.core.runtime import RunOptions, Runtime
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401  (fixture)

KEY = "Lq3vZ8x~W1n~B6t~Y0pR4sK7mD2hJ5c"  # no known shape; its "~"s put "+" in base64 at every alignment


def windows(text: str, size: int = 12) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def leaked_forms() -> dict[str, str]:
    """What each command prints: the key in pieces and encodings (a few edge chars aside)."""
    raw = KEY.encode()
    return {
        "prefix": KEY[:14],
        "middle": KEY[5:21],
        "reversed": KEY[::-1],
        "base64": base64.b64encode(raw).decode(),
        # The key after 1 and 2 other bytes: the other two alignments of base64.
        "base64@1": base64.b64encode(b"x" + raw).decode()[4:],
        "base64url@2": base64.urlsafe_b64encode(b"xy" + raw).decode().rstrip("=")[4:],
        "base64 of prefix": base64.b64encode(KEY[:15].encode()).decode(),
    }


COMMANDS = [
    "cut -c1-14 key.txt",
    "cut -c6-21 key.txt",
    "rev key.txt",
    "base64 -w0 key.txt",
    "base64 -w0 x-key.txt",
    "base64 -w0 xy-key.txt | tr '+/' '-_' | tr -d '='",
    "cut -c1-15 key.txt | tr -d '\\n' | base64 -w0",
]


def _home_bytes(home: Path) -> bytes:
    db = home / "data" / "agentic-flow.db"
    store = Store(db)
    with store.read() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file() and p.name != "config.yaml")


@pytest.fixture
def lab(tmp_path, monkeypatch, llm_server, _isolated_home):
    """A provider whose key lives in a variable no preset knows: LAB_KEY."""
    monkeypatch.setenv("LAB_KEY", KEY)
    config = {"providers": {"lab": {"kind": "openai", "base_url": llm_server.openai_url, "api_key_env": "LAB_KEY"}}}
    (_isolated_home / "config.yaml").write_text(yaml.safe_dump(config))
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "key.txt").write_text(KEY)
    (ws / "x-key.txt").write_text("x" + KEY)  # base64 then starts the key 1 and 2 bytes into a group
    (ws / "xy-key.txt").write_text("xy" + KEY)
    monkeypatch.chdir(ws)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return ws


def test_custom_key_variable_and_its_pieces_and_encodings_are_masked(llm_server, lab, capsys, _isolated_home):
    calls = [(f"c{i}", "bash", {"command": command}) for i, command in enumerate(COMMANDS)]
    script = iter([Reply.tool_calls(calls), Reply.text("done")])
    llm_server.set_handler(lambda req: next(script))
    code = main(["run", "--model", "lab:m", "--task", "show me the key", "--approve", "auto", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert llm_server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # used, not shown
    results = dict(llm_server.requests[1].tool_results())
    assert len(results) == len(COMMANDS)
    assert all("[REDACTED]" in text for text in results.values()), results  # each command printed key material
    assert main(["audit", "--json"]) == 0
    exported = capsys.readouterr().out
    places = {
        "sent to the model": json.dumps(results),
        "stdout (--json)": out,
        "stderr": err,
        "audit export": exported,
        "database": _home_bytes(_isolated_home).decode("utf-8", "replace"),
    }
    for form, text in leaked_forms().items():
        for where, shown in places.items():
            found = [w for w in windows(text) if w in shown]
            assert not found, f"{form} of the key in {where}: {found[:3]}"


def test_short_pieces_and_ordinary_text_are_left_alone(llm_server, lab, capsys):
    """Eleven characters of a key are not worth masking; the rest of the output is kept."""
    script = iter([Reply.tool_calls([("c0", "bash", {"command": "cut -c1-11 key.txt"})]), Reply.text("done")])
    llm_server.set_handler(lambda req: next(script))
    assert main(["run", "--model", "lab:m", "--task", "go", "--approve", "auto"]) == 0
    ((_, text),) = llm_server.requests[1].tool_results()
    assert text.startswith(f"{KEY[:11]}\n") and "[REDACTED]" not in text


async def test_user_messages_are_stored_redacted(llm_server, tmp_path, monkeypatch, _isolated_home):
    """What the user types is masked on disk (the model still gets it: the user sent it)."""
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    ws = tmp_path / "ws"
    ws.mkdir()
    opts = RunOptions(model="llamacpp:test-model", base_url=llm_server.openai_url, workspace=str(ws))
    runtime = await Runtime.open(opts)
    try:
        [e async for e in runtime.session.send(f"deploy with {KEY}, or at least {KEY[:14]}")]
        session_id = runtime.session.session_id
    finally:
        await runtime.aclose()
    assert KEY in json.dumps(llm_server.requests[0].json)  # the live conversation has it
    (user, *_) = Store().load_messages(session_id)
    assert user.content == "deploy with [REDACTED], or at least [REDACTED]"
    assert Store().get_session(session_id).title.startswith("deploy with [REDACTED]")
    assert KEY[:12].encode() not in _home_bytes(_isolated_home)
