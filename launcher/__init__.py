"""agentic-flow workbench: run coding agents on any LLM provider, in a terminal.

This is the root of the one import package the project installs, ``agentic_flow``.
``pyproject.toml`` maps the repository's top-level folders into it, so nothing we
ship can clash with another distribution's ``core`` or ``agents``:

    agentic_flow          this folder (``launcher/``): the version and the entry point
    agentic_flow.core     ``core/``   headless engine, never imports Textual
    agentic_flow.tui      ``tui/``    the Textual workbench, talks to core via ``Runtime``
    agentic_flow.agents   ``agents/`` the bundled agent catalog (markdown)
    agentic_flow.themes   ``themes/`` the bundled themes (YAML)

The entry point (:mod:`agentic_flow.main`) sits above both layers, so ``core`` never
imports ``tui``.
"""

__version__ = "0.1.0"
