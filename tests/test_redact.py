"""Secret masking: token shapes, key/value assignments, env and registered secrets."""

from __future__ import annotations

import base64
import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

import agentic_flow.core.redact as redact_module
from agentic_flow.core.redact import REDACTED, redact, redact_obj, register_key_variable, register_secret

OPENAI = "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4" * 2
ANTHROPIC = "sk-ant-api03-" + "xY7_zW3-qR9tU2vB5nM8kL1j" * 3
OPENROUTER = "sk-or-v1-" + "0123456789abcdef" * 4
GITHUB = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4xY7zA0cF3hJ6"
GITHUB_PAT = "github_pat_11ABCDEFG0" + "abcdefghijKLMNOPQRST_0123456789" * 2
AWS = "AKIAIOSFODNN7EXAMPLE"
SLACK_BOT = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_USER = "xoxp-123456789012-1234567890123-1234567890123-abcdef0123456789"
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK"


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    monkeypatch.setattr(redact_module, "_registered", set())


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"export OPENAI_API_KEY={OPENAI}", OPENAI),
        (f"key is {OPENAI}.", OPENAI),
        (f"using {ANTHROPIC} now", ANTHROPIC),
        (f"Authorization header uses {OPENROUTER}", OPENROUTER),
        (f"git clone https://{GITHUB}@github.com/o/r", GITHUB),
        (f"token={GITHUB_PAT}", GITHUB_PAT),
        (f"aws_access_key_id = {AWS}", AWS),
        (f"slack {SLACK_BOT} and {SLACK_USER}", SLACK_BOT),
        (f"slack {SLACK_BOT} and {SLACK_USER}", SLACK_USER),
        ("curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc123' x", "eyJhbGciOiJIUzI1NiJ9.e30.abc123"),
        ("authorization: bearer abcdefgh12345678", "abcdefgh12345678"),
        ('{"api_key": "plainsecretvalue", "model": "x"}', "plainsecretvalue"),
        ("{'apiKey': 'plainsecretvalue'}", "plainsecretvalue"),
        ("api_key: plainsecretvalue\nmodel: x", "plainsecretvalue"),
        ("  password: 'correct horse battery'\n", "correct horse battery"),
        ("DB_PASSWORD=hunter2hunter2", "hunter2hunter2"),
        ("export GITHUB_TOKEN=plaintokenvalue", "plaintokenvalue"),
        ("client_secret=abc123def456&grant_type=x", "abc123def456"),
        ("postgres://admin:s3cr3tpass@db.local:5432/app", "s3cr3tpass"),
        ('curl -d "{\\"api_key\\": \\"nestedjsonsecret\\"}" https://x', "nestedjsonsecret"),
        ('{"password": "with \\"quote\\" inside"}', "inside"),
    ],
)
def test_known_shapes_are_masked(text: str, secret: str):
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


def test_surrounding_text_is_kept():
    assert redact(f"run with {OPENAI} please") == f"run with {REDACTED} please"
    assert redact('{"api_key": "abcdefgh", "model": "gpt"}') == '{"api_key": "[REDACTED]", "model": "gpt"}'
    assert redact("Authorization: Bearer abcdefgh12345678") == "Authorization: Bearer [REDACTED]"
    assert redact("https://u:pw123456@host/x") == "https://u:[REDACTED]@host/x"
    escaped = 'bash -c "echo {\\"token\\": \\"abcdefgh\\", \\"n\\": 1}"'
    assert redact(escaped) == 'bash -c "echo {\\"token\\": \\"[REDACTED]\\", \\"n\\": 1}"'


@pytest.mark.parametrize(
    "kind", ["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"]
)
def test_private_key_blocks(kind: str):
    block = f"-----BEGIN {kind}-----\n{PEM_BODY}\n-----END {kind}-----"
    out = redact(f"before\n{block}\nafter")
    assert out == f"before\n{REDACTED}\nafter"


def test_truncated_private_key_block_is_masked_to_the_end():
    out = redact(f"cat id_rsa:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}")
    assert out == f"cat id_rsa:\n{REDACTED}"


def test_public_key_is_left_alone():
    text = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBg\n-----END PUBLIC KEY-----"
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens: 1000",
        '{"input_tokens": 12, "output_tokens": 3}',
        "secret_name: prod-db",
        "the token is sent in a header",
        "ask-for-permission-before-running-anything",
        "risk-assessment-of-the-new-module",
        "api_key: ${OPENROUTER_API_KEY}",
        "password: <your password here>",
        "password=****",
        "Bearer token",
        "sk-short",
        "AKIA1234",
        "",
    ],
)
def test_ordinary_text_is_not_masked(text: str):
    assert redact(text) == text


def test_env_keys_are_masked_whatever_their_shape(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "plain-looking-value-1")
    monkeypatch.setenv("GROQ_API_KEY", "gq12")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok12345")
    monkeypatch.setenv("WEBHOOK_SECRET", "whsec99887766")
    monkeypatch.setenv("SHORT_TOKEN", "abc1234")  # 7 chars: too short for a generic var
    monkeypatch.setenv("EDITOR_THEME", "solarized-dark")  # not a secret name
    text = "a plain-looking-value-1 b gq12 c tok12345 d whsec99887766 e abc1234 f solarized-dark"
    assert redact(text) == f"a {REDACTED} b {REDACTED} c {REDACTED} d {REDACTED} e abc1234 f solarized-dark"


def test_env_is_read_at_call_time(monkeypatch):
    assert redact("value zzzz9999zzzz") == "value zzzz9999zzzz"
    monkeypatch.setenv("OPENAI_API_KEY", "zzzz9999zzzz")
    assert redact("value zzzz9999zzzz") == f"value {REDACTED}"


def test_register_secret_and_extra_secrets():
    register_secret("  from-config-file-123 \n")
    register_secret("abc")  # too short to mask everywhere
    assert redact("x from-config-file-123 y abc") == f"x {REDACTED} y abc"
    assert redact("one-off-secret here", extra_secrets=["one-off-secret"]) == f"{REDACTED} here"


def test_longest_secret_is_masked_whole():
    register_secret("abcdefgh")
    register_secret("abcdefgh-ijkl")
    assert redact("k=abcdefgh-ijkl;") == f"k={REDACTED};"


def test_redact_obj_nested():
    register_secret("registered-secret-1")
    original = {
        "command": f"deploy --key {OPENAI}",
        "headers": [{"Authorization": "Bearer abcdefgh12345678"}, {"X-Other": "fine"}],
        "password": "p",  # short, but the key says it is a secret
        "db": {"api_key": 12345678, "port": 5432, "enabled": True, "token": None},
        "args": ("registered-secret-1", 3, None),
        "max_tokens": 100,
        "notes": "",
    }
    snapshot = copy.deepcopy(original)
    out = redact_obj(original)
    assert original == snapshot  # input untouched
    assert out == {
        "command": f"deploy --key {REDACTED}",
        "headers": [{"Authorization": f"Bearer {REDACTED}"}, {"X-Other": "fine"}],
        "password": REDACTED,
        "db": {"api_key": REDACTED, "port": 5432, "enabled": True, "token": None},
        "args": (REDACTED, 3, None),
        "max_tokens": 100,
        "notes": "",
    }


def test_redact_obj_extra_secrets_reach_nested_strings():
    assert redact_obj({"a": ["xx my-extra-secret xx"]}, ["my-extra-secret"]) == {"a": [f"xx {REDACTED} xx"]}


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(left=_text, right=_text)
def test_registered_secret_never_survives(left: str, right: str):
    secret = "Zq7-registered-8Wx"
    redact_module._registered.add(secret)
    try:
        assert secret not in redact(left + secret + right)
    finally:
        redact_module._registered.discard(secret)


@given(
    left=_text,
    right=_text,
    secret=st.sampled_from([OPENAI, ANTHROPIC, OPENROUTER, GITHUB, GITHUB_PAT, AWS, SLACK_BOT]),
)
def test_token_shapes_never_survive_between_spaces(left: str, right: str, secret: str):
    assert secret not in redact(f"{left} {secret} {right}")


@given(st.lists(st.sampled_from([
    "api_key: ", "password=", '"token": "', "Bearer ", OPENAI, "sk-", "xoxb-", " ", "\n", "'",
    '"', "abcdefgh12345678", REDACTED, "-----BEGIN RSA PRIVATE KEY-----", ":", "=", "https://u:",
    "@h", "max_tokens: 5",
]), max_size=12).map("".join))
def test_redact_is_idempotent(text: str):
    once = redact(text)
    assert redact(once) == once


# --------------------------------------------------------------------------- pieces and encodings

PLAIN_KEY = "Zr81Mq0PaX5c7Wt3Kv9Bn2HdQ4sLe"  # no known shape; 29 long, so its last 12 hold no 8-aligned block


def _b64(data: bytes, *, urlsafe: bool = False, pad: bool = True) -> str:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data).decode()
    return text if pad else text.rstrip("=")


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("the first 14 characters", PLAIN_KEY[:14]),
        ("the first 12 characters", PLAIN_KEY[:12]),
        ("the last 12 characters", PLAIN_KEY[-12:]),
        ("a 15-character middle chunk", PLAIN_KEY[4:19]),
        ("reversed", PLAIN_KEY[::-1]),
        ("a reversed prefix", PLAIN_KEY[:14][::-1]),
        ("base64", _b64(PLAIN_KEY.encode())),
        ("base64 after 1 byte", _b64(b"#" + PLAIN_KEY.encode())[4:]),
        ("base64 after 2 bytes", _b64(b"#!" + PLAIN_KEY.encode())[4:]),
        ("url-safe base64, no padding", _b64(b"#!" + PLAIN_KEY.encode(), urlsafe=True, pad=False)[4:]),
        ("base64 of a prefix", _b64(PLAIN_KEY[:15].encode())),
        ("base64 with a newline", _b64((PLAIN_KEY + "\n").encode())),
    ],
)
def test_pieces_and_encodings_of_a_known_key_are_masked(monkeypatch, label: str, shown: str):
    monkeypatch.setenv("OPENAI_API_KEY", PLAIN_KEY)
    out = redact(f"output: {shown} (end)")
    assert REDACTED in out, label
    left = out.replace("output: ", "").replace(" (end)", "")
    assert all(len(part) < 5 for part in left.split(REDACTED)), (label, out)  # at most a group's edge is left
    assert out.startswith("output: ") and out.endswith(" (end)")


def test_short_pieces_and_look_alike_text_are_not_masked(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-" + PLAIN_KEY)
    for text in (PLAIN_KEY[:11], PLAIN_KEY[5:15], "keys start with sk-proj-", "sk-proj-Zr8 and more", "plain words"):
        assert redact(text) == text


def test_url_safe_base64_of_a_symbol_rich_key_is_masked():
    secret = "a?b>c?d>e?f>g?h>i?j>k?l>m?n>"  # its base64 has "/" or "+" in every group
    register_secret(secret)
    for prefix in (b"", b"#", b"#!"):
        shown = _b64(prefix + secret.encode(), urlsafe=True, pad=False)
        assert "-" in shown or "_" in shown
        out = redact(shown)
        assert all(len(part) < 5 for part in out.split(REDACTED)), out


def test_a_custom_key_variable_is_masked_once_registered(monkeypatch):
    monkeypatch.setattr(redact_module, "_key_variables", set())
    monkeypatch.setenv("LAB", "lab-7Rq2Wx")  # a name no rule would call secret
    assert redact("used lab-7Rq2Wx") == "used lab-7Rq2Wx"
    register_key_variable("LAB")
    assert redact("used lab-7Rq2Wx") == f"used {REDACTED}"
    monkeypatch.setenv("LAB", "lab-changed-99")  # read at each call
    assert redact("used lab-changed-99") == f"used {REDACTED}"


@pytest.mark.parametrize(
    "text",
    [
        "Export it (export OPENAI_API_KEY=...) or put api_key under providers.openai",
        "set api_key=xxxx) first",
        "(password=****), then",
        "export LAB_TOKEN=...; run again",
    ],
)
def test_placeholders_in_hints_survive_with_the_sentence_around_them(text: str):
    """A hint's placeholder runs into the sentence's ")" or ";" — it is still a placeholder."""
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"(export OPENAI_API_KEY={OPENAI}) or", OPENAI),
        ("(export LAB_TOKEN=plainsecretvalue) or", "plainsecretvalue"),
        ("api_key=abc123def456) done", "abc123def456"),
        ("password=...real-password-here) x", "...real-password-here"),
    ],
)
def test_real_values_next_to_a_closing_bracket_are_still_masked(text: str, secret: str):
    out = redact(text)
    assert secret not in out and REDACTED in out
