"""Generated documentation: parts of docs/ that are derived from the code, with tests that fail when stale.

Run `make docs` (or `python -m tools.docs`) after changing the config schema or the stacks' wiring.
"""
