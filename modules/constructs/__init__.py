"""Reusable constructs, one per file, named for the job they do."""
