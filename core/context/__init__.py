"""What a long session needs beyond the agent loop: the context window and compaction,
checkpoints of file changes per turn, and ``@path`` mentions.

Modules:
    compaction   context usage, when to compact, the summary that replaces older turns
    checkpoints  pre-images of the files the file tools change, per turn; restore
    mentions     ``@path`` / ``@path#L20-45`` attachments through the permission engine
"""
