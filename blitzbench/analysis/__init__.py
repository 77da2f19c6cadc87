"""Saved runs, their statistics, comparisons and tables; torch-free (tox -e report has no torch)."""
