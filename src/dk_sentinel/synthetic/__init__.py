"""Synthetic contract files with ground-truth labels, and their evaluation (tests, benchmarks).

Never on the production path: the scoring, reading and outcome modules may not import it
(an import contract in pyproject.toml).
"""
