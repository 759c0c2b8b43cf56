"""`[batch]`: every combination AWS Batch, Fargate or S3 would refuse is one line naming the field to change."""

from __future__ import annotations

import pytest

from modules.config.batch import OUTPUT_GROWTH, OUTPUT_PART_BYTES, BatchConfig
from modules.limits import S3_MULTIPART_PART_SIZE, S3_MULTIPART_PARTS
from tests.config.config_text import load_config_text, refusal, shipped_config_text

LOCAL = shipped_config_text("local")
DEV = shipped_config_text("dev")


def _batch(text: str, *lines: str) -> str:
    """TEXT with LINES in its [batch] section, replacing the settings of the same names."""
    head, tail = text.split("[batch]\n", 1)
    names = {line.split(" = ")[0] for line in lines}
    kept = "".join(line for line in tail.splitlines(keepends=True) if line.split(" = ")[0] not in names)
    return head + "[batch]\n" + "".join(f"{line}\n" for line in lines) + kept


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("vcpu = 3",), "batch.vcpu: 3 is not a Fargate vCPU value; allowed: 0.25, 0.5, 1, 2, 4, 8, 16"),
        (
            ("vcpu = 0.5", "memory = 8192"),
            "batch.memory: 8192 MiB is not allowed with vcpu 0.5; allowed: 1024, 2048, 3072, 4096",
        ),
        (('cpu_architecture = "ARM64"',), "batch.spot_percent: Fargate Spot runs X86_64 only"),
        (
            ("vcpu = 4", "memory = 8192", "max_vcpus = 6", "spot_percent = 50"),
            "batch.max_vcpus: its Fargate Spot share of 3 vCPUs (spot_percent 50) cannot run one job of 4 vCPUs",
        ),
        (("max_array_size = 10001",), "batch.max_array_size: Input should be less than or equal to 10000"),
        (("retry_attempts = 11",), "batch.retry_attempts: Input should be less than or equal to 10"),
        (("timeout_minutes = 0",), "batch.timeout_minutes: Input should be greater than or equal to 1"),
        (
            ("part_bytes = 1048576", "max_parts = 10", "max_input_bytes = 20971520"),
            "batch.max_input_bytes: 20971520 bytes in parts of batch.part_bytes (1048576) need more than batch.max_parts (10)",
        ),
        (("upload_url_seconds = 700000",), "batch.upload_url_seconds: Input should be less than or equal to 604800"),
        (('image_tag = "latest"',), "batch.image_tag"),
    ],
    ids=[
        "vcpu",
        "memory-for-vcpu",
        "arm64-on-spot",
        "spot-share-too-small",
        "array-size",
        "retries",
        "timeout",
        "parts-for-input",
        "url-lifetime",
        "moving-tag",
    ],
)
def test_a_batch_setting_aws_would_refuse_is_one_line_naming_the_field(tmp_path, lines, expected) -> None:
    assert expected in refusal(tmp_path, _batch(DEV, *lines))


def test_arm64_is_accepted_once_spot_is_off(tmp_path) -> None:
    text = _batch(DEV.replace("spot_percent = 75\n", ""), 'cpu_architecture = "ARM64"', "spot_percent = 0")

    assert load_config_text(tmp_path, text).batch.on_demand_vcpus == 32


def test_batch_functions_in_a_vpc_without_nat_need_the_batch_endpoint(tmp_path) -> None:
    text = LOCAL.replace(', "batch"]', "]")

    assert (
        "network.interface_endpoints: the batch functions run in the VPC (compute.lambdas.in_vpc) without NAT "
        '(network.nat = "none") and call the AWS Batch API: add "batch"'
    ) in refusal(tmp_path, text, "local.toml")


def test_the_completion_message_needs_a_standard_results_topic(tmp_path) -> None:
    text = DEV.replace("[messaging]\n", "[messaging]\nfifo_topics = true\n", 1)

    assert "messaging.fifo_topics: the batch completion message comes from an EventBridge rule" in refusal(
        tmp_path, text
    )


def test_a_long_prefix_is_refused_for_the_names_the_batch_stack_builds(tmp_path) -> None:
    text = DEV.replace(
        'project = "inference"', 'project = "' + "p" * 32 + '"\nenvironment = "' + "e" * 20 + '"'
    ).replace("[inference]\n", '[inference]\nendpoint_name = "short"\n', 1)

    message = refusal(tmp_path, text)
    assert "IAM role name" in message and "<project>-<environment>-batch-submit-lambda" in message


def test_the_spot_share_splits_max_vcpus_and_the_queue_gets_the_rest_on_demand() -> None:
    config = BatchConfig(enabled=True, max_vcpus=10, spot_percent=75)

    assert (config.spot_vcpus, config.on_demand_vcpus) == (7, 3)
    assert (BatchConfig(spot_percent=100).on_demand_vcpus, BatchConfig(spot_percent=0).spot_vcpus) == (0, 0)


def test_one_input_part_always_fits_one_streamed_output_object() -> None:
    assert S3_MULTIPART_PART_SIZE.value[0] <= OUTPUT_PART_BYTES <= S3_MULTIPART_PART_SIZE.value[1]
    largest = BatchConfig.model_fields["part_bytes"].metadata
    assert (
        max(m.le for m in largest if hasattr(m, "le")) * OUTPUT_GROWTH <= OUTPUT_PART_BYTES * S3_MULTIPART_PARTS.value
    )
