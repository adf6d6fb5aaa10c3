"""The tac-bootstrap benchmark suite: every figure a ratio against a floor measured in the same run.

Run it with ``python bench/run.py [--quick]`` from the repository root; see ``bench/README.md``.
"""
