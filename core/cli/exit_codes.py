"""Exit codes of ``agentic-flow`` (also printed by ``--help``)."""

__all__ = [
    "EXIT_OK",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "EXIT_CONFIG",
    "EXIT_PROVIDER",
    "EXIT_CUT_OFF",
    "EXIT_INTERRUPTED",
    "EXIT_PIPE",
    "EXIT_TERMINATED",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_PROVIDER = 4
EXIT_CUT_OFF = 5
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # 128 + SIGPIPE: stdout's reader went away (`run ... | head -1`), as for `git log | head`
EXIT_TERMINATED = 143  # 128 + SIGTERM, what shells report for a process killed by it
