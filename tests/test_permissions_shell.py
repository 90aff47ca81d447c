"""Splitting command lines into the simple commands bash would run."""

from __future__ import annotations

import pytest

from agentic_flow.core.permissions.shell import (
    Redirect,
    analyze_command,
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
        ("time a", ["a"]),
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


def test_unterminated_heredoc_is_a_problem() -> None:
    assert analyze_command("cat <<EOF\nhello").problems == ("here-document 'EOF' not terminated",)


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("echo 'oops", "unterminated single quote"),
        ('echo "oops', "unterminated double quote"),
        ("echo $(oops", "unterminated $(...)"),
        ("echo `oops", "unterminated backtick"),
        ("echo >", "redirection '>' without a target"),
        ("a )", "unbalanced ')'"),
    ],
)
def test_problems(command: str, problem: str) -> None:
    assert problem in analyze_command(command).problems


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
        ("{rm,-rf,x}", "rm -rf x"),
        ("rm${IFS}-rf${IFS}x", "rm -rf x"),
        ("ｒｍ -rf x", "rm -rf x"),
    ],
)
def test_deny_forms_see_through_spelling(command: str, form: str) -> None:
    forms = set().union(*(deny_forms(p) for p in analyze_command(command).parts))
    assert form in forms


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
