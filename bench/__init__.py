"""Benchmarks: each writes its section of bench/RESULTS.md. Run as scripts (`.venv/bin/python
bench/crash.py`); the crash harnesses are also imported by tests/test_crash*.py (`bench.crash`)."""
