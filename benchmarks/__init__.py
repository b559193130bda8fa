"""Benchmarks of interactive_ext against the references a user would otherwise pick."""
