"""Storage: the SQLite database (:mod:`.database`) and its schema (:mod:`.migrations`).

This package imports no feature module: features build on it, never the reverse.
"""
