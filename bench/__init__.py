"""Benchmarks of policytrail (run each module as a script, e.g. ``python bench/diff_bench.py``)."""
