"""Routing: the explainable ``--model auto`` choice (:mod:`.router`) and the weights it
learns from the user's own results (:mod:`.weights`)."""
