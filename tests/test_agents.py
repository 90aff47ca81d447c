"""Agent catalog: messy real-world files load, every problem names file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentic_flow.core.agents.catalog import (
    Agent,
    AgentCatalog,
    AgentProblem,
    agent_dirs,
    bundled_agents_dir,
    load_agent_file,
    load_catalog,
    normalize_tool_name,
)
from agentic_flow.core.errors import AgentDefinitionError
from agentic_flow.core.paths import config_dir

BUILTIN_TOOLS = {"read", "write", "edit", "glob", "grep", "ls", "bash"}
EXPECTED_BUNDLED = {
    "coder",
    "reviewer",
    "tester",
    "planner",
    "researcher",
    "debugger",
    "refactorer",
    "documenter",
    "security-auditor",
    "performance-engineer",
    "api-designer",
    "devops",
}
READ_ONLY = {"reviewer", "planner", "researcher", "security-auditor"}


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Create ``folder/name``; text is dedented so tests can indent it."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8", newline="")
    return path


def agent_md(name: str, description: str = "Does things.", body: str = "You do things.", extra: str = "") -> str:
    return f"---\nname: {name}\ndescription: {description}\n{extra}---\n{body}\n"


def only(catalog: AgentCatalog, path: Path) -> list[AgentProblem]:
    return [p for p in catalog.problems if p.path == path]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder used as cwd, so ./agents and ./.claude/agents are ours."""
    root = tmp_path / "project"
    root.mkdir()
    return root


def load_dir(folder: Path, project: Path) -> AgentCatalog:
    return load_catalog(agents_dir=folder, cwd=project)


# --------------------------------------------------------------------------- messy files


def test_description_nested_under_metadata_is_used_with_a_warning(tmp_path, project):
    path = write(
        tmp_path / "a",
        "nested.md",
        """
        ---
        name: nested
        metadata:
          description: Reviews pull requests.
          version: 2
        tools: Read
        ---
        Prompt.
        """,
    )
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("nested")
    assert agent.description == "Reviews pull requests."
    assert agent.extra["metadata"]["version"] == 2
    [problem] = only(catalog, path)
    assert problem.severity == "warning"
    assert problem.line == 3  # the `metadata:` line
    assert "metadata" in problem.message and "description" in problem.message


def test_unquoted_colon_falls_back_to_lenient_reader(tmp_path, project):
    path = write(
        tmp_path / "a",
        "colon.md",
        """
        ---
        name: colon
        description: Use this agent when: the user asks for a review. Examples:
        <example>
        Context: the user wrote code
        user: "please review"
        </example>
        tools: Read, Grep
        model: sonnet
        color: blue
        custom-key: 7
        ---

        You review code.
        """,
    )
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("colon")
    assert agent.description.startswith("Use this agent when: the user asks for a review.")
    assert 'user: "please review"' in agent.description  # prose lines are not keys
    assert "Context: the user wrote code" in agent.description
    assert agent.tools == ["read", "grep"]
    assert agent.model == "sonnet"
    assert agent.color == "blue"
    assert agent.extra == {"custom-key": 7}
    assert agent.prompt == "You review code."
    assert agent.line == 14
    [problem] = only(catalog, path)
    assert problem.severity == "warning"
    assert problem.line == 3  # the description line YAML choked on
    assert "not valid YAML" in problem.message


def test_lenient_reader_handles_lists_blocks_quotes_and_metadata(tmp_path, project):
    path = write(
        tmp_path / "a",
        "lenient.md",
        """
        ---
        name: "lenient: one"
        description: broken: on purpose
          and continued here
        tools:
          - Read
          - MultiEdit
        notes: |
          line one
          line two
        metadata:
          color: red
        flag: true
        ---
        Body.
        """,
    )
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("lenient: one")
    assert agent.description == "broken: on purpose and continued here"
    assert agent.tools == ["read", "edit"]
    assert agent.extra["notes"] == "line one\nline two\n"
    assert agent.extra["flag"] is True
    assert agent.color == "red"  # lifted from metadata
    lines = sorted(p.line for p in only(catalog, path))
    assert lines == [3, 11]  # YAML error on the description, metadata lift


def test_lenient_indented_description_with_key_like_prose_stays_text(tmp_path, project):
    path = write(
        tmp_path / "a",
        "prose.md",
        "---\nname: prose\ndescription:\n  Context: a user: asks\n  more text\ntools:\tRead\n---\nBody\n",
    )
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("prose")
    assert agent.description == "Context: a user: asks more text"
    assert agent.tools == ["read"]
    [problem] = only(catalog, path)
    assert problem.line == 4 and "not valid YAML" in problem.message


def test_non_mapping_frontmatter_is_reported_and_read_leniently(tmp_path, project):
    path = write(tmp_path / "a", "listy.md", "---\n- name\n- x\n---\nBody\n")
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("listy")  # nothing usable: name from the file
    assert agent.prompt == "Body"
    messages = [p.message for p in only(catalog, path)]
    assert any("not 'key: value'" in m for m in messages)


def test_same_name_twice_in_one_folder_is_an_error_naming_both_files(tmp_path, project):
    folder = tmp_path / "a"
    first = write(folder, "alpha.md", agent_md("twin", "First."))
    second = write(folder, "beta.md", agent_md("twin", "Second."))
    catalog = load_dir(folder, project)
    assert catalog.get("twin").path == first
    [problem] = catalog.problems
    assert problem.severity == "error"
    assert problem.path == second
    assert problem.line == 2
    assert str(first) in problem.message


def test_top_level_file_wins_over_subfolder_file_in_same_folder(tmp_path, project):
    folder = tmp_path / "a"
    top = write(folder, "zeta.md", agent_md("twin"))
    nested = write(folder, "group/aaa.md", agent_md("twin"))
    catalog = load_dir(folder, project)
    assert catalog.get("twin").path == top
    assert [p.path for p in catalog.problems] == [nested]


def test_earlier_folder_overrides_later_with_warning(tmp_path, project):
    explicit = tmp_path / "explicit"
    mine = write(explicit, "coder.md", agent_md("coder", "My own coder."))
    catalog = load_dir(explicit, project)
    agent = catalog.get("coder")
    assert agent.source == "agents-dir"
    assert agent.description == "My own coder."
    [problem] = catalog.problems
    assert problem.severity == "warning"
    assert problem.path == mine and problem.line == 2
    assert "overrides" in problem.message
    assert str(bundled_agents_dir() / "coder.md") in problem.message


def test_search_order_claude_then_project_then_user_then_bundled(project):
    write(project / ".claude" / "agents", "a.md", agent_md("shared", "claude"))
    write(project / "agents", "a.md", agent_md("shared", "project"))
    write(project / "agents", "b.md", agent_md("proj-only", "project"))
    write(config_dir() / "agents", "c.md", agent_md("proj-only", "user"))
    write(config_dir() / "agents", "d.md", agent_md("tester", "user tester"))
    catalog = load_catalog(cwd=project)
    assert catalog.get("shared").source == "project-claude"
    assert catalog.get("proj-only").source == "project"
    assert catalog.get("tester").source == "user"
    assert catalog.get("coder").source == "bundled"
    overrides = [p for p in catalog.problems if "overrides" in p.message]
    assert len(overrides) == 3
    assert not [p for p in catalog.problems if "overrides" not in p.message]


def test_agent_dirs_lists_agents_dir_first_and_dedupes(tmp_path, project):
    dirs = agent_dirs(agents_dir=tmp_path / "x", cwd=project)
    assert dirs == [
        (tmp_path / "x", "agents-dir"),
        (project / ".claude" / "agents", "project-claude"),
        (project / "agents", "project"),
        (config_dir() / "agents", "user"),
        (bundled_agents_dir(), "bundled"),
    ]
    # Run from the repo itself: ./agents is the bundled folder, listed once.
    repo = bundled_agents_dir().parent
    in_repo = agent_dirs(cwd=repo)
    assert [s for _, s in in_repo] == ["project-claude", "project", "user"]
    # The same folder passed as --agents-dir and found as ./agents is listed once.
    (project / "agents").mkdir()
    same = agent_dirs(agents_dir=Path("agents"), cwd=project)
    assert [s for _, s in same] == ["agents-dir", "project-claude", "user", "bundled"]


def test_missing_agents_dir_is_an_error_but_others_still_load(tmp_path, project):
    catalog = load_catalog(agents_dir=tmp_path / "nope", cwd=project)
    [problem] = catalog.problems
    assert problem.severity == "error" and "does not exist" in problem.message
    assert "coder" in catalog


def test_file_without_frontmatter_uses_file_name_and_first_paragraph(tmp_path, project):
    path = write(
        tmp_path / "a",
        "plain-helper.md",
        """
        # Plain helper

        Helps with plain things
        across two lines.

        More instructions.
        """,
    )
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("plain-helper")
    assert agent.description == "Helps with plain things across two lines."
    assert agent.prompt.startswith("# Plain helper")
    assert agent.tools is None and agent.line == 1
    [problem] = only(catalog, path)
    assert problem.line == 1 and "frontmatter" in problem.message


def test_unclosed_frontmatter_loads_as_prompt(tmp_path, project):
    path = write(tmp_path / "a", "open.md", "---\nname: open\ndescription: x\nBody\n")
    catalog = load_dir(tmp_path / "a", project)
    assert catalog.get("open").prompt.startswith("---")
    [problem] = only(catalog, path)
    assert problem.line == 1 and "never closed" in problem.message


def test_binary_file_is_an_error_and_does_not_hide_others(tmp_path, project):
    folder = tmp_path / "a"
    binary = write(folder, "image.md", b"---\nname: img\n\x89PNG\x00\x00\x01")
    write(folder, "good.md", agent_md("good"))
    catalog = load_dir(folder, project)
    assert "good" in catalog and "img" not in catalog
    [problem] = catalog.problems
    assert problem.path == binary and problem.severity == "error"
    assert problem.line == 3 and "binary" in problem.message


def test_non_utf8_file_is_an_error_with_the_line_of_the_bad_byte(tmp_path, project):
    folder = tmp_path / "a"
    latin = write(folder, "latin.md", "---\nname: latin\ndescription: café\n---\nx\n".encode("latin-1"))
    write(folder, "good.md", agent_md("good"))
    catalog = load_dir(folder, project)
    assert set(catalog.agents) >= {"good"} and "latin" not in catalog
    [problem] = catalog.problems
    assert problem.path == latin and problem.severity == "error"
    assert problem.line == 3 and "UTF-8" in problem.message


def test_crlf_and_bom_are_handled(tmp_path, project):
    folder = tmp_path / "a"
    text = "---\r\nname: crlf\r\ndescription: Windows file.\r\ntools: Read, Bash\r\n---\r\n\r\nLine one.\r\nLine two.\r\n"
    write(folder, "crlf.md", text.encode())
    write(folder, "bom.md", b"\xef\xbb\xbf" + agent_md("bom", "Has a BOM.").encode())
    write(folder, "cr.md", agent_md("cr", "Old Mac.", "a\rb").replace("\n", "\r").encode())
    catalog = load_dir(folder, project)
    assert catalog.problems == []
    crlf = catalog.get("crlf")
    assert crlf.description == "Windows file."
    assert crlf.prompt == "Line one.\nLine two."
    assert crlf.tools == ["read", "bash"]
    assert crlf.line == 7
    assert catalog.get("bom").description == "Has a BOM."
    assert catalog.get("cr").prompt == "a\nb"


def test_missing_name_comes_from_file_name(tmp_path, project):
    path = write(tmp_path / "a", "nameless.md", "---\ndescription: No name here.\n---\nBody\n")
    catalog = load_dir(tmp_path / "a", project)
    assert catalog.get("nameless").description == "No name here."
    [problem] = only(catalog, path)
    assert problem.line == 1 and "name" in problem.message


def test_empty_body_is_a_warning_with_its_line(tmp_path, project):
    path = write(tmp_path / "a", "empty.md", "---\nname: empty\ndescription: d\n---\n\n\n")
    catalog = load_dir(tmp_path / "a", project)
    assert catalog.get("empty").prompt == ""
    [problem] = only(catalog, path)
    assert problem.line == 5 and "empty prompt" in problem.message


def test_empty_file_is_skipped_with_a_warning(tmp_path, project):
    path = write(tmp_path / "a", "blank.md", "\n\n")
    catalog = load_dir(tmp_path / "a", project)
    assert "blank" not in catalog
    assert [p.path for p in catalog.problems] == [path]


def test_duplicate_key_is_reported(tmp_path, project):
    path = write(tmp_path / "a", "dupkey.md", "---\nname: dk\ndescription: one\ndescription: two\n---\nx\n")
    catalog = load_dir(tmp_path / "a", project)
    assert catalog.get("dk").description == "two"
    [problem] = only(catalog, path)
    assert problem.line == 4 and "appears twice" in problem.message


def test_wrong_field_types_are_reported_not_raised(tmp_path, project):
    path = write(
        tmp_path / "a",
        "typed.md",
        "---\nname: typed\ndescription: [not, text]\ntools: 5\nmodel: inherit\n---\nBody here.\n",
    )
    catalog = load_dir(tmp_path / "a", project)
    agent = catalog.get("typed")
    assert agent.tools == []  # an unreadable tools field grants nothing
    assert agent.model is None  # "inherit" = the session's model
    assert agent.description == "Body here."
    lines = sorted(p.line or 0 for p in only(catalog, path))
    assert lines == [1, 3, 4]


def test_subfolders_one_level_readme_and_hidden_files(tmp_path, project):
    folder = tmp_path / "a"
    write(folder, "README.md", "# About these agents\n")
    write(folder, ".hidden.md", agent_md("hidden"))
    write(folder, "notes.txt", agent_md("text"))
    write(folder, "group/one.md", agent_md("one"))
    write(folder, "group/deeper/two.md", agent_md("two"))
    write(folder, ".git/three.md", agent_md("three"))
    catalog = load_dir(folder, project)
    mine = {a.name for a in catalog if a.source == "agents-dir"}
    assert mine == {"one"}
    assert catalog.problems == []


# --------------------------------------------------------------------------- tools


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("Read", "read"),
        ("Write", "write"),
        ("Edit", "edit"),
        ("MultiEdit", "edit"),
        ("Glob", "glob"),
        ("Grep", "grep"),
        ("LS", "ls"),
        ("Bash", "bash"),
        ("bash", "bash"),
        (" Grep ", "grep"),
        ("mcp__github__create_issue", "mcp:github/create_issue"),
        ("mcp__my_server__do__thing", "mcp:my_server/do__thing"),
        ("mcp__github", "mcp:github/*"),
        ("WebFetch", "WebFetch"),
        ("Bash(git diff:*)", "bash(git diff:*)"),
    ],
)
def test_normalize_tool_name(given_name, expected):
    assert normalize_tool_name(given_name) == expected


def test_tools_as_string_and_list_give_the_same_result(tmp_path, project):
    folder = tmp_path / "a"
    write(folder, "s.md", agent_md("s", extra="tools: Read, Edit, MultiEdit, mcp__gh__search, Task\n"))
    write(
        folder,
        "l.md",
        agent_md("l", extra="tools:\n  - Read\n  - Edit\n  - MultiEdit\n  - mcp__gh__search\n  - Task\n"),
    )
    write(folder, "f.md", agent_md("f", extra="tools: [Read, Edit, MultiEdit, mcp__gh__search, Task]\n"))
    write(folder, "all.md", agent_md("all"))
    write(folder, "star.md", agent_md("star", extra="tools: '*'\n"))
    write(folder, "none.md", agent_md("none", extra="tools: []\n"))
    catalog = load_dir(folder, project)
    assert catalog.problems == []
    expected = ["read", "edit", "mcp:gh/search", "agent"]  # Claude Code's Task is our agent tool
    assert catalog.get("s").tools == expected
    assert catalog.get("l").tools == expected
    assert catalog.get("f").tools == expected
    assert catalog.get("all").tools is None
    assert catalog.get("star").tools is None
    assert catalog.get("none").tools == []


# --------------------------------------------------------------------------- catalog API


def make_catalog() -> AgentCatalog:
    def agent(name: str, description: str) -> Agent:
        return Agent(name=name, description=description, prompt="p", path=Path(f"{name}.md"), source="bundled")

    agents = [
        agent("reviewer", "Reviews code for bugs."),
        agent("security-auditor", "Audits code for vulnerabilities."),
        agent("coder", "Writes code. Pairs well with a reviewer."),
    ]
    return AgentCatalog(agents={a.name: a for a in agents})


def test_get_with_typo_suggests_close_names():
    catalog = make_catalog()
    with pytest.raises(AgentDefinitionError) as info:
        catalog.get("reviewr")
    assert "'reviewer'" in str(info.value)
    assert "reviewr" in str(info.value)


def test_get_is_exact_then_case_insensitive():
    catalog = make_catalog()
    assert catalog.get("Coder").name == "coder"
    with pytest.raises(AgentDefinitionError) as info:
        catalog.get("zzzzzz")
    assert "Known agents: coder, reviewer, security-auditor." in str(info.value)


def test_a_long_list_of_known_agents_says_how_many_more():
    base = make_catalog()
    agent = next(iter(base.agents.values()))
    catalog = AgentCatalog(agents={f"agent-{i:02d}": agent for i in range(15)}, problems=[], dirs=[])
    with pytest.raises(AgentDefinitionError) as info:
        catalog.get("zzzzzz")
    message = str(info.value)
    assert "agent-11 and 3 more (`agentic-flow agents list`)." in message and "...." not in message


def test_search_matches_name_then_description_case_insensitive():
    catalog = make_catalog()
    assert [a.name for a in catalog.search("REVIEW")] == ["reviewer", "coder"]
    assert [a.name for a in catalog.search("vulnerab")] == ["security-auditor"]
    assert [a.name for a in catalog.search("")] == ["coder", "reviewer", "security-auditor"]
    assert catalog.search("nothing-like-this") == []


def test_problem_str_names_file_line_and_severity():
    problem = AgentProblem(Path("a/b.md"), 3, "bad thing", "error")
    assert str(problem) == f"{Path('a/b.md')}:3: error: bad thing"


def test_load_agent_file_single(tmp_path):
    path = write(tmp_path, "one.md", agent_md("one", extra="color: green\n"))
    agent, problems = load_agent_file(path)
    assert agent is not None and agent.color == "green" and agent.source == "agents-dir"
    assert problems == []
    bad = write(tmp_path, "bad.md", b"\x00\x01")
    agent, problems = load_agent_file(bad)
    assert agent is None and problems[0].severity == "error"


# --------------------------------------------------------------------------- bundled


def test_bundled_catalog_is_complete_and_clean(project):
    catalog = load_catalog(cwd=project)
    assert catalog.problems == []
    bundled = {a.name: a for a in catalog if a.source == "bundled"}
    assert len(bundled) >= 12
    assert EXPECTED_BUNDLED <= set(bundled)
    for agent in bundled.values():
        assert agent.tools, agent.name
        delegation = {t for t in agent.tools if t.startswith("agent")}
        assert set(agent.tools) - delegation <= BUILTIN_TOOLS | {"mcp:*"}, agent.name
        assert "mcp:*" in agent.tools, agent.name  # configured MCP servers reach every agent
        assert 20 <= len(agent.prompt.splitlines()) <= 60, agent.name
        assert 20 <= len(agent.description) <= 300, agent.name
        assert agent.path.stem == agent.name
    for name in READ_ONLY:
        assert not {"write", "edit"} & set(bundled[name].tools), name
    assert "bash" not in bundled["planner"].tools
    # only the lead delegates, to agents that exist, with every tool they may need
    assert [a.name for a in bundled.values() if any(t.startswith("agent") for t in a.tools)] == ["lead"]
    (entry,) = [t for t in bundled["lead"].tools if t.startswith("agent(")]
    callable_ = {n.strip() for n in entry[len("agent("):-1].split(",")}
    assert callable_ <= set(bundled) and "lead" not in callable_
    for name in callable_:
        assert set(bundled[name].tools) <= set(bundled["lead"].tools), name
    assert {a.name: a.model for a in bundled.values() if a.model} == {"researcher": "haiku", "documenter": "haiku"}


# --------------------------------------------------------------------------- robustness


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(
            st.sampled_from(
                ["---", "name: x", "description: a: b", "  - Read", "tools:", "metadata:", "  k: v", "|", "", "\r", "- y"]
            ),
            max_size=12,
        ).map(lambda lines: "\n".join(lines).encode()),
    )
)
def test_loader_never_raises_for_file_content(tmp_path, content):
    path = tmp_path / "fuzz.md"
    path.write_bytes(content)
    agent, problems = load_agent_file(path)
    assert agent is not None or any(p.severity == "error" or "empty" in p.message for p in problems)
    for problem in problems:
        assert problem.path == path
        assert problem.line is None or problem.line >= 1
