"""Compare: N models on one task, concurrently (:mod:`.runner`), code checks of the
answers (:mod:`.codecheck`), stored results (:mod:`.results`) and exports (:mod:`.export`)."""
