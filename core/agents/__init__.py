"""Agents: the catalog of Claude Code style markdown agents (:mod:`.catalog`)."""
