"""The access gate (issue 11): prove offline that the synthesized policies allow every AWS call the pipeline makes.

`python -m tools.access_check` reads one environment's synthesized stacks. Modules, in the order data flows:
stacks (read the JSON), expressions + attributes + documents (resolve references, compute ARNs, render policy
documents), inventory (resources by identifier, their customer keys), policies (identity and resource policies),
components + actions (recorded calls from manifests/ -> IAM requests, with KMS and S3 rules), service_calls
(calls AWS services make for us), evaluate + simulate.mjs (@cloud-copilot/iam-simulate, one node process),
unused (grants no call needs), check (one run), report, cli. recorder + pytest_plugin write and guard manifests.
"""
