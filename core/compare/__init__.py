"""Compare: N models on one task, concurrently.

* :mod:`.agentic` — each model runs the agent with its tools in its own copy of the
  workspace (:mod:`.isolation`: git worktree or temp copy), checked by a command run in
  that copy; :mod:`.apply` brings one run's diff into the real workspace through the
  permission engine.
* :mod:`.runner` — text only: the same prompt to every model, no tools; the code in the
  answers is checked (:mod:`.codecheck`).
* :mod:`.result` / :mod:`.results` / :mod:`.export` — the figures, their storage, and
  Markdown, CSV, JSON and terminal tables.
"""
