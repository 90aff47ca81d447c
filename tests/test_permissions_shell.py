"""Reading command lines with the bash grammar: the simple commands bash would run, and
how plain they are (what an allow rule or a mode may approve)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentic_flow.core.permissions.shell import (
    OPAQUE_CLASSES,
    R_UNPARSABLE,
    Redirect,
    analyze_command,
    brace_rewrite,
    command_chain,
    deny_forms,
    has_unsafe_characters,
    split_command,
)


@pytest.mark.parametrize(
    ("command", "parts"),
    [
        ("git status", ["git status"]),
        ("git   status  --short", ["git status --short"]),
        ("a;b", ["a", "b"]),
        ("a && b || c", ["a", "b", "c"]),
        ("a | b |& c", ["a", "b", "c"]),
        ("a & b", ["a", "b"]),
        ("a\nb\n\nc", ["a", "b", "c"]),
        ("echo 'a;b' \"c && d\"", ["echo 'a;b' \"c && d\""]),
        ("echo a\\;b", ["echo a\\;b"]),
        ("(a; b) && c", ["a", "b", "c"]),
        ("{ a; b; }", ["a", "b"]),
        ("if a; then b; else c; fi", ["a", "b", "c"]),
        ("while a; do b; done", ["a", "b"]),
        ("! a", ["a"]),
        ("time a", ["time a"]),
        ("ls \\\n  -la", ["ls \\ -la"]),
        ("a=1 b", ["a=1 b"]),
        ("", []),
        (";;", []),
    ],
)
def test_split(command: str, parts: list[str]) -> None:
    assert split_command(command) == parts


@pytest.mark.parametrize(
    ("command", "inner", "origin"),
    [
        ("echo $(whoami)", "whoami", "$(...)"),
        ("echo \"$(whoami)\"", "whoami", "$(...)"),
        ("echo `whoami`", "whoami", "`...`"),
        ("echo \"`whoami`\"", "whoami", "`...`"),
        ("diff <(ls a) b", "ls a", "<(...)"),
        ("tee >(gzip) x", "gzip", ">(...)"),
        ("echo ${x:-$(whoami)}", "whoami", "$(...)"),
        ("echo $(echo $(whoami))", "whoami", "$(...)"),
        ("sh -c 'whoami'", "whoami", "sh -c"),
        ("bash -lc \"whoami\"", "whoami", "sh -c"),
        ("eval whoami", "whoami", "eval"),
        ("find . -exec whoami {} \\;", "whoami {}", "find -exec"),
        ("cat <<EOF\n$(whoami)\nEOF", "whoami", "$(...)"),
        ("sudo -u bob env A=1 sh -c 'whoami'", "whoami", "sh -c"),
    ],
)
def test_hidden_commands_are_parts(command: str, inner: str, origin: str) -> None:
    analysis = analyze_command(command)
    found = [p for p in analysis.parts if p.text == inner]
    assert found, [p.text for p in analysis.parts]
    assert found[0].origin == origin
    assert found[0].depth >= 1
    assert found[0].parent is not None
    assert analysis.has_substitution


def test_quoted_heredoc_body_is_not_code() -> None:
    analysis = analyze_command("cat > f.sh <<'EOF'\nrm -rf /\n$(whoami)\nEOF\ngit status")
    assert [p.text for p in analysis.parts] == ["cat > f.sh <<'EOF'", "git status"]
    assert analysis.problems == ()


def test_unquoted_heredoc_body_text_is_not_a_command() -> None:
    analysis = analyze_command("cat <<EOF\nrm -rf /\nEOF")
    assert [p.text for p in analysis.parts] == ["cat <<EOF"]


def test_heredoc_into_a_shell_is_read_as_commands() -> None:
    analysis = analyze_command("bash <<'EOF'\nrm -rf ~\nEOF")
    inner = [p for p in analysis.parts if p.origin == "here-doc"]
    assert [p.words for p in inner] == [("rm", "-rf", "~")] and inner[0].parent == 0


def test_text_piped_into_a_shell_is_read_as_commands() -> None:
    analysis = analyze_command("echo 'rm -rf victim' | bash")
    inner = [p for p in analysis.parts if p.origin == "| bash"]
    assert [p.words for p in inner] == [("rm", "-rf", "victim")]


def test_aliases_and_links_made_on_the_line_are_resolved() -> None:
    parts = analyze_command("alias r='rm -rf'; r x").parts
    assert parts[-1].words == ("r", "x") and parts[-1].resolved == ("rm", "-rf", "x")
    parts = analyze_command("ln -s /bin/rm del && ./del -rf x").parts
    assert parts[-1].resolved == ("rm", "-rf", "x")
    # a bare name is found on PATH, not in the cwd: "cp x rm" does not make "rm" mean "x"
    assert analyze_command("cp x rm; rm -rf y").parts[-1].resolved == ("rm", "-rf", "y")


@pytest.mark.parametrize(
    "command",
    ["echo 'oops", 'echo "oops', "echo $(oops", "echo `oops", "echo >", "a )", "if then fi", "cat <<EOF\nhello"],
)
def test_problems(command: str) -> None:
    analysis = analyze_command(command)
    assert analysis.problems and R_UNPARSABLE in analysis.opaque and not analysis.plain


@pytest.mark.parametrize(
    ("command", "redirects"),
    [
        ("ls > out", [Redirect(">", "out")]),
        ("ls >> out 2>&1", [Redirect(">>", "out"), Redirect(">&", "1", "2")]),
        ("ls 2>/dev/null", [Redirect(">", "/dev/null", "2")]),
        ("ls &> 'a b'", [Redirect("&>", "a b")]),
        ("cat < in", [Redirect("<", "in")]),
        ("ls >| x", [Redirect(">|", "x")]),
    ],
)
def test_redirects(command: str, redirects: list[Redirect]) -> None:
    (part,) = analyze_command(command).parts
    assert list(part.redirects) == redirects


@pytest.mark.parametrize(
    ("redirect", "writes"),
    [(Redirect(">", "x"), True), (Redirect(">>", "x"), True), (Redirect("<", "x"), False),
     (Redirect("<<", "EOF"), False), (Redirect(">&", "1", "2"), False), (Redirect(">&", "file"), True)],
)
def test_redirect_writes(redirect: Redirect, writes: bool) -> None:
    assert redirect.writes is writes


def test_digits_after_a_space_are_an_argument_not_a_descriptor() -> None:
    (part,) = analyze_command("echo 2 > x").parts
    assert part.words == ("echo", "2")
    assert part.redirects == (Redirect(">", "x"),)


@pytest.mark.parametrize(
    ("command", "pipelines"),
    [
        ("a | b", [[["a"], ["b"]]]),
        ("a | b; c | d", [[["a"], ["b"]], [["c"], ["d"]]]),
        ("a; b", []),
        ("(a) | b", [[["a"], ["b"]]]),
        ("{ a; } | b", [[["a"], ["b"]]]),
    ],
)
def test_pipelines(command: str, pipelines: list[list[list[str]]]) -> None:
    analysis = analyze_command(command)
    got = [[[analysis.parts[i].text for i in stage] for stage in pipeline] for pipeline in analysis.pipelines]
    assert got == pipelines


@pytest.mark.parametrize(
    ("command", "form"),
    [
        ("'rm' -rf x", "rm -rf x"),
        ('r"m" -rf x', "rm -rf x"),
        ("\\rm -rf x", "rm -rf x"),
        ("$'\\x72m' -rf x", "rm -rf x"),
        ("$'\\162m' -rf x", "rm -rf x"),
        ("/bin/rm -rf x", "rm -rf x"),
        ("sudo -u root rm -rf x", "rm -rf x"),
        ("env FOO=1 rm -rf x", "rm -rf x"),
        ("FOO=1 rm -rf x", "rm -rf x"),
        ("timeout 5 rm -rf x", "rm -rf x"),
        ("nice -n 5 command rm x", "rm x"),
        ("xargs -0 rm", "rm"),
        ("time -p rm -rf x", "rm -rf x"),
        ("coproc rm -rf x", "rm -rf x"),
        ("alias r='rm'; r -rf x", "rm -rf x"),
        ("rm${IFS}-rf${IFS}x", "rm -rf x"),
        ("ｒｍ -rf x", "rm -rf x"),
    ],
)
def test_deny_forms_see_through_spelling(command: str, form: str) -> None:
    forms = set().union(*(deny_forms(p) for p in analyze_command(command).parts))
    assert form in forms


def test_brace_expansion_in_command_position_is_rewritten() -> None:
    assert brace_rewrite("{rm,-rf,x}") == "rm -rf x"
    assert brace_rewrite("cp a{,.bak}") == "cp a a.bak"
    assert brace_rewrite("echo '{a,b}'") is None


def test_command_chain() -> None:
    assert command_chain(("sudo", "-u", "x", "env", "A=1", "rm", "-rf", "y")) == [
        ("sudo", "-u", "x", "env", "A=1", "rm", "-rf", "y"),
        ("env", "A=1", "rm", "-rf", "y"),
        ("rm", "-rf", "y"),
    ]
    assert command_chain(("git", "status")) == [("git", "status")]
    assert command_chain(("A=1",)) == []


@pytest.mark.parametrize(
    ("text", "unsafe"),
    [("git status", False), ("echo café\tok\nls", False), ("git status\u200b", True), ("ls \u202e", True),
     ("ls\r", True), ("ls\x1b[2K", True), ("a\x00", True)],
)
def test_unsafe_characters(text: str, unsafe: bool) -> None:
    assert has_unsafe_characters(text) is unsafe


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    command = "eval " * 30 + "ls"
    analysis = analyze_command(command)
    assert "commands nested too deeply" in analysis.problems


def test_long_command_is_fast_enough() -> None:
    command = " && ".join(f"echo {i} $(printf x) `true`" for i in range(500))
    analysis = analyze_command(command)
    assert len(analysis.parts) == 1500


# ------------------------------------------------------------------ plain / not plain / opaque


@pytest.mark.parametrize("cls", OPAQUE_CLASSES, ids=lambda c: c.reason[:40])
def test_class_examples(cls) -> None:
    """Each class of the table, with its own examples: the table is the spec."""
    for command in cls.match:
        analysis = analyze_command(command)
        found = analysis.opaque if cls.level == "opaque" else analysis.not_plain
        assert cls.reason in found, (command, analysis.opaque, analysis.not_plain)
        assert not analysis.plain
    for command in cls.not_match:
        analysis = analyze_command(command)
        found = analysis.opaque if cls.level == "opaque" else analysis.not_plain
        assert cls.reason not in found, (command, found)


@pytest.mark.parametrize(
    "command",
    [
        "git status",
        "git status --short && git diff",
        "ls -la src | grep -v test | wc -l",
        "echo 'a; b' \"c && d\" $HOME ${USER} \"$PWD/x\"",
        "(cd sub && make test)",
        "{ ls; pwd; }",
        "ls *.py",
        "python -m pytest -q 2>&1",
        "git status > out.txt",
        "X=1; echo $X",
        "export A=1 && npm test",
        "! grep -q x f",
        "ls ~/x",
        "echo $? $# \"$@\"",
        "cat < in.txt",
        "$'\\x72m' x",
    ],
)
def test_plain_commands(command: str) -> None:
    analysis = analyze_command(command)
    assert analysis.plain, (analysis.problems, analysis.opaque, analysis.not_plain)


@pytest.mark.parametrize(
    ("command", "level"),
    [
        ("echo $(id)", "not_plain"),
        ("for f in *.py; do echo $f; done", "not_plain"),
        ("sleep 1 &", "not_plain"),
        ("/bin/r? x", "not_plain"),
        ("git status --short ${x:='a[$(touch m)]'}${y[x]}", "opaque"),
        ("echo ${x@P}", "opaque"),
        ("test -v 'a[$(touch m)]'", "opaque"),
        ("printf -v x $[y]", "opaque"),
        ("echo 'rm x' | bash", "opaque"),
        ("bash <<'EOF'\nrm x\nEOF", "opaque"),
        ("eval ls", "opaque"),
        ("source x.sh", "opaque"),
        ("alias ls=rm", "opaque"),
        ("coproc rm x", "opaque"),
        ("time -p rm x", "opaque"),
        ("echo 'unterminated", "opaque"),
    ],
)
def test_not_plain_commands(command: str, level: str) -> None:
    analysis = analyze_command(command)
    assert not analysis.plain
    assert bool(analysis.opaque) is (level == "opaque"), (analysis.opaque, analysis.not_plain)


def test_a_brace_before_a_character_above_u00ff_never_crashes_the_parser() -> None:
    """tree-sitter-bash reads the character after ``{`` with C's ``isdigit`` (a table of
    256 entries): ``{`` + U+E0000 crashed the process within a few hundred parses. Run in a
    child so a crash fails this test instead of ending the suite."""
    code = (
        "from agentic_flow.core.permissions.shell import analyze_command\n"
        "commands = ['{\\U000e0000', 'echo {1..\\U0010fffd}', 'x{\\U00064863', 'echo {9\\U000e0001..2}']\n"
        "for _ in range(500):\n"
        "    for c in commands:\n"
        "        analysis = analyze_command(c)\n"
        "        assert ''.join(p.text for p in analysis.parts) in c\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-2000:])
    # Text still comes from the command as written, not from what the parser was given.
    parts = analyze_command("echo {\U000e0000} \u4e2d{\u4e2d").parts
    assert [p.text for p in parts] == ["echo {\U000e0000} \u4e2d{\u4e2d"]
