"""Benchmarks of clonejob-operator against a real API server (scripts, not timed tests)."""
