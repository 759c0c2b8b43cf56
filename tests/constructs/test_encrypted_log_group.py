"""One rule for every log group: retention is one of CloudWatch's values, checked the same way everywhere."""

import pytest

from modules.constructs.encrypted_log_group import log_group_problems
from modules.limits import CLOUDWATCH_LOG_RETENTION


@pytest.mark.parametrize("days", CLOUDWATCH_LOG_RETENTION.value)
def test_every_cloudwatch_retention_value_is_accepted(days):
    assert log_group_problems("log_retention_days", days) == []


@pytest.mark.parametrize("days", [0, 2, 8, 366, 3654])
def test_a_retention_cloudwatch_refuses_is_named_with_its_field_and_value(days):
    (problem,) = log_group_problems("log_retention_days", days)
    assert problem.startswith("log_retention_days must be one of the CloudWatch retention values 1, 3, 5")
    assert problem.endswith(f"got {days}")


def test_the_api_and_endpoint_constructs_check_retention_like_the_others():
    """They used to check only `> 0`: 8 days passed synth and failed at apply."""

    from tests.conftest import PROJECT_ROOT

    constructs = PROJECT_ROOT / "modules" / "constructs"
    for path in sorted(constructs.glob("*.py")):
        text = path.read_text()
        if "encrypted_log_group(" in text and path.name != "encrypted_log_group.py":
            assert "log_group_problems(" in text, f"{path.name} makes a log group without checking its retention"
    direct = [
        p.name
        for p in constructs.glob("*.py")
        if "CloudwatchLogGroup(" in p.read_text() and p.name != "encrypted_log_group.py"
    ]
    assert direct == [], f"log groups made around the shared piece: {direct}"
