"""Resolve the `${...}` references of synthesized Terraform JSON into the concrete values AWS would see.

cdktf writes plain references (`${aws_sqs_queue.q.arn}`, `${data.aws_partition.partition.partition}`,
`${data.terraform_remote_state.cross-stack-reference-input-storage.outputs.<name>}` ...); the one function call in
values the gate reads is `join("<separator>", [<references and strings>])` (an image: repository URL + tag), so a
reference walker plus that one function is enough: attributes that AWS computes come from attributes.py, policy
documents from documents.py, and a cross-stack value is the producer stack's output expression, resolved in that
stack.
"""

from __future__ import annotations

import re
from typing import Any

from tools.access_check import attributes, documents
from tools.access_check.stacks import Block, InputError, Synthesized

_WHOLE = re.compile(r"^\$\{([^{}]+)\}$")
_PART = re.compile(r"\$\{([^{}]+)\}")
_STEP = re.compile(r"([A-Za-z0-9_-]+)((?:\[\d+\])*)")
_REFERENCE = re.compile(r"^[A-Za-z0-9_.\[\]-]+$")
_JOIN = re.compile(r'^join\("([^"]*)",\s*\[(.*)\]\)$')
_JOIN_ITEM = re.compile(r'\s*(?:"([^"]*)"|([A-Za-z0-9_.\[\]-]+))\s*(?:,|$)')


class Resolver:
    """Resolves values in the context of one stack; caches every computed attribute."""

    def __init__(self, synthesized: Synthesized) -> None:
        self.synthesized = synthesized
        self._cache: dict[tuple[str, str, str], Any] = {}
        self._active: list[tuple[str, str, str]] = []

    # --- public ------------------------------------------------------------------------------------------

    @property
    def account(self) -> str:
        return self.synthesized.account

    @property
    def region(self) -> str:
        return self.synthesized.region

    @property
    def partition(self) -> str:
        return self.synthesized.partition

    def resolve(self, stack: str, value: Any) -> Any:
        """`value` with every reference replaced, recursively; metadata (`//`) is dropped."""
        if isinstance(value, dict):
            return {key: self.resolve(stack, item) for key, item in value.items() if key != "//"}
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _WHOLE.match(value)
        if whole:
            return self.evaluate(stack, whole[1])
        return _PART.sub(lambda match: self._as_text(stack, match[1]), value)

    def arg(self, block: Block, path: str, default: Any = None) -> Any:
        """A resolved argument of `block` by dotted path (`vpc_config.subnet_ids`, `rule.0.x`)."""
        value: Any = block.body
        for step in path.split("."):
            if isinstance(value, list) and step.isdigit() and int(step) < len(value):
                value = value[int(step)]
            elif isinstance(value, dict) and step in value:
                value = value[step]
            else:
                return default
        return self.resolve(block.stack, value)

    def attribute(self, block: Block, name: str) -> Any:
        """What `${<block address>.<name>}` evaluates to: an argument, or what AWS computes for it."""
        key = (block.stack, block.address, name)
        if key in self._cache:
            return self._cache[key]
        if key in self._active:
            chain = " -> ".join(f"{stack}:{address}.{attr}" for stack, address, attr in [*self._active, key])
            raise InputError(f"circular reference: {chain}")
        self._active.append(key)
        try:
            value = self._compute(block, name)
        finally:
            self._active.pop()
        self._cache[key] = value
        return value

    def evaluate(self, stack: str, expression: str) -> Any:
        """The value of one reference expression (the text between `${` and `}`)."""
        expression = expression.strip()
        joined = _JOIN.match(expression)
        if joined:
            return joined[1].join(self._join_items(stack, joined[2], expression))
        if not _REFERENCE.match(expression):
            raise InputError(
                f"stack {stack}: cannot evaluate `${{{expression}}}` offline (only references are supported)"
            )
        steps = self._steps(expression)
        if steps[:2] == ["terraform", "workspace"]:
            return "default"
        if steps[0] == "data":
            block = self.synthesized.block(stack, "data", steps[1], steps[2])
            rest = steps[3:]
        elif steps[0] in ("var", "local", "module", "path", "count", "each", "self"):
            raise InputError(
                f"stack {stack}: `${{{expression}}}` refers to {steps[0]}, which synthesized stacks don't use"
            )
        else:
            block = self.synthesized.block(stack, "resource", steps[0], steps[1])
            rest = steps[2:]
        if not rest:
            raise InputError(f"stack {stack}: `${{{expression}}}` names a whole block, not an attribute")
        if block.type == "terraform_remote_state":
            return self._remote_state(block, rest, expression)
        return _walk(self.attribute(block, rest[0]), rest[1:], f"{stack}: ${{{expression}}}")

    # --- internals ---------------------------------------------------------------------------------------

    def _remote_state(self, block: Block, rest: list[str], expression: str) -> Any:
        if rest[0] != "outputs" or len(rest) < 2:
            raise InputError(
                f"stack {block.stack}: `${{{expression}}}`: only `.outputs.<name>` of remote state is supported"
            )
        producer = self.synthesized.producer_of(block.stack, block.name)
        value = self.resolve(producer, self.synthesized.output(producer, rest[1]))
        return _walk(value, rest[2:], f"{block.stack}: ${{{expression}}}")

    def _compute(self, block: Block, name: str) -> Any:
        if block.mode == "data" and block.type == "aws_iam_policy_document" and name in ("json", "minified_json"):
            return documents.render_json(self, block)
        computed = attributes.compute(self, block, name)
        if computed is not attributes.UNKNOWN:
            return computed
        if name in block.body:
            return self.resolve(block.stack, block.body[name])
        raise InputError(f"{block}: don't know the value of attribute `{name}` offline")

    def _join_items(self, stack: str, items: str, expression: str) -> list[str]:
        values, position = [], 0
        while position < len(items):
            item = _JOIN_ITEM.match(items, position)
            if item is None or item.end() == position:
                raise InputError(
                    f"stack {stack}: cannot evaluate `${{{expression}}}` offline (join of references and strings only)"
                )
            values.append(item[1] if item[1] is not None else self._as_text(stack, item[2]))
            position = item.end()
        return values

    def _as_text(self, stack: str, expression: str) -> str:
        value = self.evaluate(stack, expression)
        if isinstance(value, (dict, list)):
            raise InputError(f"stack {stack}: `${{{expression}}}` is a {type(value).__name__}, used inside a string")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    @staticmethod
    def _steps(expression: str) -> list[str]:
        steps: list[str] = []
        for part in expression.split("."):
            match = _STEP.fullmatch(part)
            if not match:
                raise InputError(f"cannot parse reference `${{{expression}}}`")
            steps.append(match[1])
            steps.extend(re.findall(r"\[(\d+)\]", match[2]))
        return steps


def _walk(value: Any, steps: list[str], where: str) -> Any:
    for step in steps:
        if isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            raise InputError(f"{where}: no `{step}` in {value!r:.80}")
    return value
