"""Review Terraform plans on pull requests (issues 8 and 15).

`python -m tools.plan_review` reads `terraform show -json` output, one file per stack, and writes the pull-request
comment (markdown) or everything for scripts (json). Standard library only, so CI runs it without installing
anything. Modules, in the order data flows through them:
- model (parse and validate; configuration references, relevant attributes, refresh-only plans);
- classify (kinds, counts, stateful types), relevance (the drift Terraform itself reports), iam (statement-level
  policy differences, widening), cost with prices and prices.toml (fixed monthly cost from a dated table),
  values (attribute differences, masking, whitespace);
- review (all of it, once per plan), gates (destruction and cost, waived by labels);
- fit (the comment's size limit), markdown, render_markdown with render_cost and render_iam, render_json; cli.
Around the review: stacks (the stacks CI runs, from the manifest), saved (saved plans: make, decide, apply),
drift (`make drift` and the nightly drift check).
"""
