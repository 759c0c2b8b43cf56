"""Names for immutable resources (SageMaker models and endpoint configurations) that change exactly when the
resource must be replaced.

Why Terraform computes the hash and not Python: most arguments that force a replacement are references to
other resources (execution role, subnets, security group, KMS keys, topics). At synth they are only tokens;
hashing a token's text would catch a change of wiring but not a change of value. A KMS key replaced behind the
same reference gets a new ARN, the provider replaces the configuration, and with create_before_destroy the new
one would be created under the old name: "already exists". Terraform evaluates
`substr(sha1(jsonencode(<arguments>)), 0, 10)` over the real values instead.

Why hash exactly the arguments given to the resource (callers build one dict and use it for both): every
argument of these two resources except `tags` forces replacement (the provider's Update handles tags only, in
5.100 and 6.25), so the name must depend on all of them, and an argument added later cannot be left out.

In the plan the name is a plain value whenever every argument is known. It is "(known after apply)" only when an
argument itself is unknown (first creation, or a role, key or group being replaced in the same apply), and then
the resource is being replaced anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

from cdktf import Fn

HASH_LENGTH = 10


def replacement_hash(arguments: Mapping[str, object]) -> str:
    """A token: the first HASH_LENGTH hex digits of SHA-1 over ARGUMENTS as JSON, evaluated by Terraform.

    Unset (None) arguments are left out, as they are left out of the resource. Terraform's jsonencode sorts
    object keys, so the order of ARGUMENTS does not matter.
    """
    present = {name: value for name, value in arguments.items() if value is not None}
    return Fn.substr(Fn.sha1(Fn.jsonencode(present)), 0, HASH_LENGTH)
