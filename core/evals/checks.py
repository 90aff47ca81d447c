"""Checks of an eval cell, run in the cell's copy of the workspace after the agent stopped.

* ``command`` — through :meth:`core.compare.agentic.IsolatedRun.check` (the permission
  engine decides, a deny rule stops it, it runs in the sandbox); passes on the expected
  exit code.
* ``file_exists`` / ``file_contains`` / ``file_regex`` — paths inside the workspace only
  (``..`` and symlinks out of it fail the check).
* ``python_parses`` — ``ast.parse`` of every matching file (a glob), or of the answer's
  Python blocks with ``answer``; nothing is executed.
* ``json_schema`` — a JSON file (or the answer's JSON: the whole answer, else its first
  ``json`` block) validated with ``jsonschema``.
* ``answer_contains`` / ``answer_regex`` — the agent's final answer.
* ``judge`` — a model reads the rubric, the task, the answer and the diff and answers
  ``{"score": 0..1, "pass": true|false, "reason": "..."}``; the cell passes the check
  when ``pass`` is true, or, without it, when the score reaches the threshold. Its cost
  is added to the cell's.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from agentic_flow.core.compare.codecheck import extract_blocks
from agentic_flow.core.compare.result import ModelRun
from agentic_flow.core.errors import AgenticFlowError
from agentic_flow.core.evals.records import CheckResult
from agentic_flow.core.evals.suite import (
    AnswerContains,
    AnswerRegex,
    Check,
    CommandCheckSpec,
    FileContains,
    FileExists,
    FileRegex,
    JsonSchemaCheck,
    JudgeCheck,
    PythonParses,
    Suite,
    Task,
    check_label,
)
from agentic_flow.core.events import ProviderFailed, TextDelta, Usage
from agentic_flow.core.messages import ChatRequest, UserMessage

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.compare.agentic import IsolatedRun
    from agentic_flow.core.config import LoadedSettings
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.store.database import Store

__all__ = ["run_checks", "judge_prompt", "parse_verdict", "JUDGE_SYSTEM", "DIFF_LIMIT"]

DIFF_LIMIT = 20_000
"""Characters of the diff and of the answer a judge is shown."""
JUDGE_SYSTEM = (
    "You grade the work of a coding agent against a rubric. Reply with one JSON object and nothing else: "
    '{"score": <number from 0 to 1>, "pass": <true or false>, "reason": "<one sentence>"}.'
)


def _inside(workspace: Path, relative: str) -> Path | None:
    """``relative`` resolved inside ``workspace``, or None when it points out of it."""
    root = workspace.resolve()
    path = (root / relative).resolve()
    return path if path == root or root in path.parents else None


def _read(workspace: Path, relative: str) -> tuple[str | None, str]:
    path = _inside(workspace, relative)
    if path is None:
        return None, f"{relative} is outside the workspace"
    if not path.is_file():
        return None, f"{relative} does not exist"
    try:
        return path.read_text(encoding="utf-8", errors="replace"), ""
    except OSError as exc:
        return None, f"cannot read {relative}: {exc.strerror or exc}"


def _result(check: Check, passed: bool, detail: str = "", cost: float | None = None) -> CheckResult:
    kind = next(iter(check.model_dump(by_alias=True)))
    return CheckResult(kind=kind, label=check_label(check), passed=passed, detail=detail, cost=cost)


def _python_parses(check: PythonParses, workspace: Path, answer: str) -> CheckResult:
    target = check.python_parses
    if target == "answer":
        blocks = [b for b in extract_blocks(answer) if b.lang == "python"]
        if not blocks:
            return _result(check, False, "the answer has no ```python block")
        for block in blocks:
            try:
                ast.parse(block.code)
            except SyntaxError as exc:
                return _result(check, False, f"block {block.index} line {exc.lineno}: {exc.msg}")
        return _result(check, True, f"{len(blocks)} block(s) parse")
    root = workspace.resolve()
    files = sorted(p for p in root.glob(target) if p.is_file() and _inside(root, str(p.relative_to(root))))
    if not files:
        return _result(check, False, f"no file matches {target}")
    for path in files:
        try:
            ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=path.name)
        except SyntaxError as exc:
            return _result(check, False, f"{path.relative_to(root)} line {exc.lineno}: {exc.msg}")
    return _result(check, True, f"{len(files)} file(s) parse")


def _answer_json(answer: str) -> tuple[Any, str]:
    try:
        return json.loads(answer), ""
    except ValueError:
        pass
    for block in extract_blocks(answer):
        if block.lang == "json":
            try:
                return json.loads(block.code), ""
            except ValueError as exc:
                return None, f"the answer's json block is not valid JSON: {exc}"
    return None, "the answer is not JSON and has no ```json block"


def _json_schema(check: JsonSchemaCheck, suite: Suite, workspace: Path, answer: str) -> CheckResult:
    spec = check.json_schema
    if spec.schema_file is not None:
        try:
            schema = json.loads(suite.resolve(spec.schema_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return _result(check, False, f"cannot read the schema {spec.schema_file}: {exc}")
    else:
        schema = spec.schema_
    if spec.path == "answer":
        instance, problem = _answer_json(answer)
    else:
        text, problem = _read(workspace, spec.path)
        instance = None
        if text is not None:
            try:
                instance = json.loads(text)
            except ValueError as exc:
                problem = f"{spec.path} is not valid JSON: {exc}"
    if problem:
        return _result(check, False, problem)
    try:
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(schema)
        errors = sorted(validator_cls(schema).iter_errors(instance), key=lambda e: list(e.path))
    except jsonschema.SchemaError as exc:
        return _result(check, False, f"the schema itself is invalid: {exc.message}")
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return _result(check, False, f"{where}: {first.message}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))
    return _result(check, True, "valid")


def judge_prompt(rubric: str, task: str, answer: str, diff: str) -> str:
    """What the judge model is asked (the diff and the answer clipped to :data:`DIFF_LIMIT`)."""

    def clip(text: str) -> str:
        return text if len(text) <= DIFF_LIMIT else text[:DIFF_LIMIT] + "\n… (clipped)"

    return (
        f"## Rubric\n{rubric.strip()}\n\n## Task given to the agent\n{task.strip()}\n\n"
        f"## The agent's final answer\n{clip(answer.strip()) or '(none)'}\n\n"
        f"## The agent's changes (unified diff)\n{clip(diff.strip()) or '(no changes)'}\n\n"
        "Grade the work against the rubric. Reply with the JSON object only."
    )


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_verdict(text: str, threshold: float) -> tuple[bool | None, str]:
    """``(passed, detail)`` from a judge's reply; ``passed`` None when there is no verdict."""
    match = _OBJECT.search(text)
    if match is None:
        return None, "the judge answered without a JSON verdict"
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None, "the judge's verdict is not valid JSON"
    if not isinstance(data, dict):
        return None, "the judge's verdict is not an object"
    reason = str(data.get("reason", "")).strip()
    score = data.get("score")
    verdict = data.get("pass")
    if isinstance(verdict, bool):
        passed = verdict
    elif isinstance(score, (int, float)) and not isinstance(score, bool):
        passed = float(score) >= threshold
    else:
        return None, "the judge's verdict has neither pass nor score"
    shown = f"score {float(score):.2f}" if isinstance(score, (int, float)) and not isinstance(score, bool) else "no score"
    return passed, f"{shown}: {reason}" if reason else shown


async def _judge(
    check: JudgeCheck,
    task: Task,
    run: ModelRun,
    *,
    settings: "LoadedSettings",
    catalog: "ModelCatalog | None",
    base_url: str | None,
) -> CheckResult:
    # lazy: a provider is built only when a suite has a judge check
    from agentic_flow.core.runtime import make_provider, prepare_model

    spec = check.judge
    model_id = spec.model
    request = ChatRequest(
        model=model_id.split(":", 1)[1],
        system=JUDGE_SYSTEM,
        messages=[UserMessage(content=judge_prompt(spec.rubric, task.prompt, run.answer, run.diff))],
        max_tokens=400,
        temperature=0,
    )
    text: list[str] = []
    usage: Usage | None = None
    failure: str | None = None
    try:
        await prepare_model(model_id)
        provider = make_provider(model_id, settings, base_url=spec.base_url or base_url)
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, ProviderFailed):
                failure = event.message
    except AgenticFlowError as exc:
        failure = str(exc)
    cost = catalog.cost(model_id, usage.input_tokens, usage.output_tokens) if usage is not None and catalog else None
    if failure is not None:
        result = _result(check, False, f"the judge {model_id} failed: {failure}", cost)
        return result.model_copy(update={"could_not_run": True})
    passed, detail = parse_verdict("".join(text), spec.threshold)
    return _result(check, bool(passed), detail, cost)


async def run_checks(
    checks: list[Check],
    *,
    suite: Suite,
    task: Task,
    isolated: "IsolatedRun",
    run: ModelRun,
    settings: "LoadedSettings",
    catalog: "ModelCatalog | None" = None,
    base_url: str | None = None,
    store: "Store | None" = None,
) -> list[CheckResult]:
    """Every check of ``task`` on the finished ``run`` in its copy, in order."""
    workspace = isolated.workspace
    answer = run.answer
    results: list[CheckResult] = []
    for check in checks:
        if isinstance(check, CommandCheckSpec):
            outcome = await isolated.check(check.command, timeout=check.timeout, source="eval check", store=store)
            if not outcome.allowed:
                results.append(_result(check, False, f"not run: {outcome.reason or outcome.decided_by}"))
            elif outcome.timed_out:
                results.append(_result(check, False, f"timed out after {check.timeout:g} s\n{outcome.output}"))
            else:
                passed = outcome.exit_code == check.exit_code
                results.append(_result(check, passed, f"exit {outcome.exit_code}\n{outcome.output}".rstrip()))
        elif isinstance(check, FileExists):
            path = _inside(workspace, check.file_exists)
            ok = path is not None and path.exists()
            results.append(_result(check, ok, "" if ok else f"{check.file_exists} does not exist"))
        elif isinstance(check, FileContains):
            text, problem = _read(workspace, check.file_contains.path)
            ok = text is not None and check.file_contains.text in text
            results.append(_result(check, ok, problem or ("" if ok else "the text is not in the file")))
        elif isinstance(check, FileRegex):
            text, problem = _read(workspace, check.file_regex.path)
            ok = text is not None and re.search(check.file_regex.pattern, text, re.MULTILINE) is not None
            results.append(_result(check, ok, problem or ("" if ok else "no match")))
        elif isinstance(check, PythonParses):
            results.append(_python_parses(check, workspace, answer))
        elif isinstance(check, JsonSchemaCheck):
            results.append(_json_schema(check, suite, workspace, answer))
        elif isinstance(check, AnswerContains):
            ok = check.answer_contains in answer
            results.append(_result(check, ok, "" if ok else "not in the answer"))
        elif isinstance(check, AnswerRegex):
            ok = re.search(check.answer_regex, answer, re.MULTILINE) is not None
            results.append(_result(check, ok, "" if ok else "no match in the answer"))
        elif isinstance(check, JudgeCheck):
            results.append(await _judge(check, task, run, settings=settings, catalog=catalog, base_url=base_url))
    return results
