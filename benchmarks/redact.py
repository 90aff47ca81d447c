"""Redaction cost per stored message: the pieces-and-encodings net vs exact values only.

Every message the session stores, every audit row and every tool result goes through
``core.redact.redact``. Since issue 11 it also masks pieces (12+ characters), the
reversed key and its base64 at 3 alignments, for every known key. Measured here, in one
run, on texts of 200 B (a chat message), 4 KB (a file read) and 256 KB (a long command
output), with 6 keys set (preset variables, a custom ``api_key_env``, a generic token):

  baseline   ``redact()`` as it was before: the same pipeline (private keys, token shapes,
             Bearer, URL passwords, assignments) with exact key values only
  redact     ``redact()`` as it is now (the same, plus pieces and encodings)
  store      ``Store.append_message`` of the same text (what storing a message costs anyway)

Prints the median and spread (min-max) in µs, and the ratios redact/baseline and
redact/store. Not a test: nothing here asserts.

Run: python benchmarks/redact.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AGENTIC_FLOW_HOME", tempfile.mkdtemp(prefix="af-bench-"))

from agentic_flow.core import redact as redact_module  # noqa: E402
from agentic_flow.core.messages import UserMessage  # noqa: E402
from agentic_flow.core.redact import _literals, redact, register_key_variable  # noqa: E402
from agentic_flow.core.store.database import Store  # noqa: E402

KEYS = {
    "OPENAI_API_KEY": "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4" * 6,  # 152 chars, like a real project key
    "ANTHROPIC_API_KEY": "sk-ant-api03-" + "xY7zW3qR9tU2vB5nM8kL1j" * 4,
    "OPENROUTER_API_KEY": "sk-or-v1-" + "0123456789abcdef" * 4,
    "GEMINI_API_KEY": "AIza" + "Sy3kP9qL2mN7vB4xR8tW1zC6dF0hJ5g",
    "LAB_KEY": "lab-Zr81Mq0PaX5c7Wt3Kv9B",
    "CI_DEPLOY_TOKEN": "tok-7Rq2Wx9Lp4Mn8Bv3",
}


def text_of(size: int, rng: random.Random) -> str:
    words = []
    total = 0
    while total < size:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9)))
        words.append(word)
        total += len(word) + 1
        if rng.random() < 0.08:
            words.append("\n")
    return " ".join(words)[:size]


def exact_only(text: str, literals: list[str]) -> str:
    """The literal step before issue 11: each exact value replaced."""
    for secret in literals:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


def baseline(text: str) -> str:
    real = redact_module._mask_known
    redact_module._mask_known = exact_only
    try:
        return redact(text)
    finally:
        redact_module._mask_known = real


def timed(fn, repeat: int) -> list[float]:  # noqa: ANN001
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e6)
    return out


def fmt(samples: list[float]) -> str:
    return f"{statistics.median(samples):9.1f} µs ({min(samples):.1f}-{max(samples):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    os.environ.update(KEYS)
    register_key_variable("LAB_KEY")
    rng = random.Random(11)
    store = Store(Path(tempfile.mkdtemp(prefix="af-bench-redact-")) / "bench.db")
    session = store.create_session(agent="bench", model="bench:m", workspace="/tmp")
    literals = _literals(())
    redact("warm-up " + KEYS["LAB_KEY"])  # forms of every key computed once, as in a session
    print(f"{len(literals)} keys known, {sum(map(len, literals))} characters in all")
    print(f"{'size':>8}  {'baseline (before)':>30}  {'redact() (now)':>30}  {'store.append_message':>30}  "
          "redact/baseline  redact/store")
    for size in (200, 4_096, 262_144):
        text = text_of(size, rng)
        repeat = args.repeat if size < 100_000 else max(10, args.repeat // 20)
        # Interleave the three so machine noise hits each alike.
        base_t, red_t, store_t = [], [], []
        for _ in range(repeat):
            base_t += timed(lambda: baseline(text), 1)
            red_t += timed(lambda: redact(text), 1)
            store_t += timed(lambda: store.append_message(session, UserMessage(content=text)), 1)
        ratio_store = statistics.median(red_t) / statistics.median(store_t)
        ratio_base = statistics.median(red_t) / statistics.median(base_t)
        print(f"{size:>8}  {fmt(base_t):>30}  {fmt(red_t):>30}  {fmt(store_t):>30}  "
              f"{ratio_base:15.2f}  {ratio_store:12.2f}")
    store.close()


if __name__ == "__main__":
    main()
