"""xemu's performance suite: `python -m benchmarks` (see __main__.py)."""
