"""MCP: server settings (:mod:`.config`), provider-safe tool names (:mod:`.names`) and
the client that runs servers on the official SDK (:mod:`.client`)."""
