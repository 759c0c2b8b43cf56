"""Ship a new model: package, upload, set the version, check the plan, verify the release (docs/releases.md: "Ship a new
model"). `python -m tools.release --help` lists the commands."""
