"""The bootstrap stack that creates the bucket holding dev/prod Terraform state, and who may use that bucket."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from modules.config.base import StrictModel
from modules.limits import S3_BUCKET_NAME, names_problem

# An IAM role or user ARN as `aws:PrincipalArn` carries it (for an assumed role: the role, path included).
# Wildcards are allowed in the path and name (IAM Identity Center roles end in a random suffix), not in the account.
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[A-Za-z0-9+=,.@_/*?-]+$")


def _check_principal_arn(arn: str) -> str:
    if not _PRINCIPAL_ARN.match(arn):
        raise ValueError(f"{arn!r} is not an IAM role or user ARN (arn:aws:iam::<account id>:role/<path/name>, "
                         "* and ? allowed in the name); a session's aws:PrincipalArn is its role's ARN")
    return arn


PrincipalArn = Annotated[str, AfterValidator(_check_principal_arn)]


class StateConfig(StrictModel):
    """The state bucket: its name, history, who may touch it, and where the state stack keeps its own state."""

    bucket_name: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                                    description="defaults to <project>-<environment>-tfstate-<account id> "
                                                "(without the account id where none is configured)")
    noncurrent_version_days: int = Field(default=90, ge=1, le=3650,
                                         description="days old state versions are kept")
    self_managed: bool = Field(
        default=False,
        description="the state stack keeps its own state in the bucket it created (<backend.key_prefix>/state.tfstate) "
                    "instead of state/<environment>/state.tfstate; set it, then run `make state-migrate`")
    allowed_principal_arns: tuple[PrincipalArn, ...] = Field(
        default=(),
        description="IAM roles (or users) that may use the state bucket at all: the roles that plan and deploy, "
                    "and a break-glass role; everyone else but the account root is denied. Required when "
                    "production = true; empty elsewhere means no such restriction")

    def bucket_names(self, name_prefix: str, account_id: str | None) -> tuple[str, str]:
        """(state bucket, its access-log bucket): `<project>-<environment>-tfstate[-access-logs][-<account id>]`,
        the account id making the global names unique. A configured `bucket_name` wins and names both."""
        if self.bucket_name:
            return self.bucket_name, f"{self.bucket_name}-access-logs"
        return tuple("-".join(part for part in (name_prefix, purpose, account_id) if part)
                     for purpose in ("tfstate", "tfstate-access-logs"))

    def problems(self, name_prefix: str, account_id: str | None) -> list[str]:
        """Both bucket names must fit S3's limit; the message leads with the settings the names are made of."""
        names = list(self.bucket_names(name_prefix, account_id))
        if self.bucket_name:
            problem = names_problem(S3_BUCKET_NAME, names, "state bucket", "<state.bucket_name>[-access-logs]",
                                    "state.bucket_name")
        elif account_id:
            problem = names_problem(
                S3_BUCKET_NAME, names, "state bucket", "<project>-<environment>-tfstate[-access-logs]-"
                "<allowed_account_ids[0]>", "project, environment, allowed_account_ids",
                fix="shorten project or environment, or set state.bucket_name")
        else:
            problem = names_problem(S3_BUCKET_NAME, names, "state bucket",
                                    "<project>-<environment>-tfstate[-access-logs]", "project, environment",
                                    fix="shorten project or environment, or set state.bucket_name")
        return [problem] if problem else []
