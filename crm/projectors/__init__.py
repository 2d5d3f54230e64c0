"""Projectors turn the event log into read tables; the runner drives them."""
