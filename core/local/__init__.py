"""The embedded local model: its llama.cpp server, started on demand (:mod:`.server`),
and the launcher that ties the server's life to ours (:mod:`.boot`, run by path)."""
