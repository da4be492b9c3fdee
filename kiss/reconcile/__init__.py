"""Reconciliation: the pure ``plan(desired, active, limits)`` and the executor that applies it."""
