"""agentic-flow core: the headless engine. Never imports Textual."""

from agentic_flow import __version__

__all__ = ["__version__"]
