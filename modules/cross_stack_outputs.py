"""Values passed between stacks stay visible in `terraform plan`, and only identifiers may pass.

cdktf wires a value that another stack reads through an output of the producing stack (`cross-stack-output-*`,
read back with `terraform_remote_state`) and marks every such output `sensitive`. Then every role, bucket and key
policy built from a cross-stack ARN prints as `(sensitive value)` in `terraform plan`, which is exactly what a plan
review must show. Only identifiers cross stacks here (ARNs, ids, names, URLs), never secrets: anything else is
refused at synth, so a secret can never leak into a plan through this path.

Why on the synthesized JSON and not in cdktf's hook (`register_outgoing_cross_stack_reference`): cdktf calls that
hook once per reference in every resolve pass (about 260 calls for 33 outputs in `local`), and a Python override
turns each call into a round trip to the jsii process, about 0.1 s of every synth. The JSON is the same either way.
"""

from __future__ import annotations

import json
import re

# cdktf's name prefix for the output that carries a value another stack reads.
CROSS_STACK_OUTPUT_PREFIX = "cross-stack-output-"

# Resource attributes that name something (never hold a secret): the only ones passed between stacks.
CROSS_STACK_IDENTIFIERS = frozenset(
    {
        "arn",
        "id",
        "name",
        "url",
        "invoke_arn",
        "function_name",
        "repository_url",
        "cidr_block",
        "dns_name",
        "arn_suffix",
        "execution_arn",
        "key_id",
        "invoke_url",
    }
)

# cdktf's value of a cross-stack output: one plain reference, `${aws_sns_topic.requests_1A2B.arn}`.
_REFERENCE = re.compile(r"^\$\{(?P<address>[^${}]+)\}$")


class CrossStackValueError(Exception):
    """A stack reads a value of another stack that is not an identifier (a code error, not a config error)."""


def cross_stack_attribute(value: str) -> str | None:
    """The attribute a cross-stack output carries (`${aws_sns_topic.requests_1A2B.arn}` -> `arn`); None when
    the value is not one plain reference to a resource attribute."""
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    return match["address"].rsplit(".", 1)[-1] if match and "." in match["address"] else None


def reveal_cross_stack_outputs(stack_name: str, document: dict) -> bool:
    """Unmark the cross-stack outputs of one synthesized stack; True when DOCUMENT changed (synth_run rewrites the
    stack's file then, with stable_stringify).

    Raises CrossStackValueError naming the stack and the value when one is not an identifier.
    """
    changed = False
    for name, output in document.get("output", {}).items():
        if not name.startswith(CROSS_STACK_OUTPUT_PREFIX):
            continue
        if cross_stack_attribute(output.get("value")) not in CROSS_STACK_IDENTIFIERS:
            raise CrossStackValueError(
                f"{stack_name}: {output.get('value')!r} is read by another stack, but only identifiers "
                f"({', '.join(sorted(CROSS_STACK_IDENTIFIERS))}) may cross stacks in plain view; "
                "pass an identifier, or add the attribute here if it is one"
            )
        if output.get("sensitive") is not False:
            output["sensitive"] = False
            changed = True
    return changed


def stable_stringify(value: object, level: int = 0) -> str:
    """VALUE as cdktf writes a stack (npm json-stable-stringify, two-space indent: sorted keys, empty objects and
    arrays across two lines), so a rewritten stack is byte-identical to what cdktf would have written."""
    indent = "\n" + "  " * level
    if isinstance(value, dict):
        members = [
            f"{indent}  {json.dumps(key, ensure_ascii=False)}: {stable_stringify(value[key], level + 1)}"
            for key in sorted(value)
        ]
        return "{" + ",".join(members) + indent + "}"
    if isinstance(value, list):
        return "[" + ",".join(f"{indent}  {stable_stringify(item, level + 1)}" for item in value) + indent + "]"
    return json.dumps(value, ensure_ascii=False)
