"""Agents: the catalog of Claude Code style markdown agents (:mod:`.catalog`), delegation to
subagents (:mod:`.delegation`) and the models agents run on (:mod:`.models`)."""
