"""Ship a new model: package, upload, set the version, check the plan, verify the release (README: "Ship a new
model"). `python -m tools.release --help` lists the commands."""
