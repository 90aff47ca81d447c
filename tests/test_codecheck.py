"""Code checks on answers: fenced blocks, ast/json parsing, --check through the permission engine."""

from __future__ import annotations

import json
import sys

import pytest

from agentic_flow.core.compare.codecheck import (
    CheckReport,
    check_answer,
    extract_blocks,
    run_check_command,
)
from agentic_flow.core.permissions import PermissionEngine, PolicyApprover

ANSWER = """Here is the function:

```python
def add(a, b):
    return a + b
```

And the config:

~~~json
{"name": "x", "n": 2}
~~~

Shell:

```bash
echo hi
```
"""


def test_extracts_blocks_with_language_and_answer_line():
    blocks = extract_blocks(ANSWER)
    found = [(b.lang, b.start_line, b.closed) for b in blocks]
    assert found == [("python", 4, True), ("json", 11, True), ("bash", 17, True)]
    assert blocks[0].code == "def add(a, b):\n    return a + b\n"
    assert blocks[1].code.strip() == '{"name": "x", "n": 2}'


def test_valid_blocks_pass_and_unknown_languages_are_skipped():
    report = check_answer(ANSWER)
    assert [b.status for b in report.blocks] == ["ok", "ok", "skipped"]
    assert report.ok is True
    assert report.summary().startswith("python ok; json ok")


def test_python_syntax_error_names_its_line_in_block_and_answer():
    text = "Try:\n\n```py\nx = 1\ndef broken(:\n    pass\n```\n"
    report = check_answer(text)
    (block,) = report.blocks
    assert block.status == "error" and block.lang == "python"
    assert block.message.startswith("SyntaxError")
    assert block.line == 2
    assert block.answer_line == 5 == text.splitlines().index("def broken(:") + 1
    assert report.ok is False
    assert "line 2" in report.summary()


def test_json_error_names_line_and_column():
    text = '```json\n{\n  "a": 1,\n  "b": \n}\n```'
    (block,) = check_answer(text).blocks
    assert block.status == "error" and block.line == 4 and block.answer_line == 5
    assert "column" in block.message


def test_unclosed_block_of_cut_off_answer_is_kept_and_flagged():
    text = "Answer:\n```python\ndef f():\n    return 1\n"
    report = check_answer(text)
    assert len(report.blocks) == 1 and report.blocks[0].closed is False
    assert report.blocks[0].status == "ok"
    assert "unclosed fence" in report.summary()


def test_longer_fences_contain_shorter_ones():
    text = "````markdown\n```python\nx = (\n```\n````\n"
    blocks = extract_blocks(text)
    assert len(blocks) == 1 and blocks[0].lang == "markdown"
    assert check_answer(text).ok is None  # nothing checkable: the python is only quoted


def test_doctest_blocks_check_the_prompt_lines():
    good = "```python\n>>> x = [1, 2]\n>>> len(x)\n2\n```"
    bad = "```python\n>>> x = 1\n>>> if x\n...     pass\n```"
    assert check_answer(good).ok is True
    report = check_answer(bad)
    assert report.ok is False and report.blocks[0].line == 2


def test_no_code_means_nothing_checked():
    report = check_answer("Just prose, no code.")
    assert report.blocks == [] and report.ok is None and report.summary() == "no code"


# ------------------------------------------------------------------------- --check CMD


def _engine(tmp_path, mode):
    engine, _ = PermissionEngine.from_settings(
        tmp_path, mode, user_settings=tmp_path / "none.yaml", project_settings=tmp_path / "none2.yaml"
    )
    return engine


async def test_check_command_runs_on_extracted_files_when_allowed(tmp_path):
    text = "```python\nprint('from block', 6 * 7)\n```\n```json\n[1]\n```"
    result = await run_check_command(
        f"{sys.executable} {{file}} && ls", text, engine=_engine(tmp_path, "auto"), approver=PolicyApprover("deny")
    )
    assert result.allowed and result.exit_code == 0 and result.ok
    assert "from block 42" in result.output
    assert "block1.py" in result.output and "block2.json" in result.output and "answer.md" in result.output
    assert result.decided_by == "mode:auto"


async def test_check_command_failure_is_reported_with_exit_code(tmp_path):
    text = "```python\nraise SystemExit(3)\n```"
    result = await run_check_command(
        f"{sys.executable} {{file}}", text, engine=_engine(tmp_path, "auto"), approver=PolicyApprover("deny")
    )
    assert result.allowed and result.exit_code == 3 and not result.ok
    assert result.summary() == "failed (exit 3)"


async def test_headless_check_is_denied_by_the_engine_and_not_run(tmp_path):
    marker = tmp_path / "ran"
    text = "```python\nx = 1\n```"
    result = await run_check_command(
        f"touch {marker}", text, engine=_engine(tmp_path, "ask"), approver=PolicyApprover("deny")
    )
    assert not result.allowed and result.exit_code is None
    assert "no person to ask" in (result.reason or "")
    assert not marker.exists()
    report = CheckReport(blocks=check_answer(text).blocks, command=result)
    assert report.ok is True  # a check that did not run does not fail the answer
    assert "not run" in report.summary()


async def test_check_command_allowed_by_a_rule(tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text("permissions:\n  allow:\n    - bash(echo *)\n")
    engine, _ = PermissionEngine.from_settings(
        tmp_path, "ask", user_settings=settings, project_settings=tmp_path / "x.yaml"
    )
    result = await run_check_command(
        "echo checked {files}", "```python\npass\n```", engine=engine, approver=PolicyApprover("deny")
    )
    assert result.allowed and result.decided_by.startswith("rule:") and "checked block1.py" in result.output


async def test_check_command_times_out_and_is_killed(tmp_path):
    result = await run_check_command(
        "sleep 20", "```python\npass\n```", engine=_engine(tmp_path, "auto"), approver=PolicyApprover("deny"),
        timeout=0.3,
    )
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.duration_s is not None and result.duration_s < 5


async def test_check_command_decision_goes_to_the_audit_log(tmp_path):
    from agentic_flow.core.permissions.audit import AuditLog
    from agentic_flow.core.store.database import Store

    store = Store(tmp_path / "db.sqlite")
    log = AuditLog(store)
    await run_check_command(
        "true", "```python\npass\n```", engine=_engine(tmp_path, "ask"), approver=PolicyApprover("deny"), audit=log,
        model="a:b",
    )
    (row,) = log.query()
    assert row.tool == "bash" and row.decision == "deny" and row.model == "a:b"
    assert json.loads(json.dumps(row.arguments))["command"] == "true"


@pytest.mark.parametrize("cmd", ["{file}", "{files}", "{dir}"])
async def test_placeholders_are_shell_quoted(tmp_path, cmd):
    text = "```python\npass\n```"
    result = await run_check_command(
        f"printf '%s\\n' {cmd}", text, engine=_engine(tmp_path, "auto"), approver=PolicyApprover("deny")
    )
    assert result.exit_code == 0
    assert result.output.strip().endswith("block1.py") or "af-check-" in result.output
