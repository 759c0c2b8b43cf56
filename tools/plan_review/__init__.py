"""Review Terraform plans on pull requests (issue 8).

`python -m tools.plan_review` reads `terraform show -json` output, one file per stack, and writes either the
pull-request comment (markdown) or counts for scripts (json). Modules, in the order data flows through them:
model (parse and validate), classify (kinds, counts, stateful types), values (attribute diffs, masking),
fit (GitHub's size limit), render_markdown / render_json, cli.
"""
