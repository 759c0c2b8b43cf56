import pytest

from modules.constructs.application_load_balancer import (
    ApplicationLoadBalancer,
    ApplicationLoadBalancerProps,
)
from tests.constructs.helpers import only, synth_with

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"


def _alb(stack, **overrides):
    props = {
        "name": "p-inference",
        "vpc_id": "vpc-1",
        "vpc_cidr": "10.0.0.0/16",
        "subnet_ids": ["s-1", "s-2"],
        "access_log_bucket": "p-access-logs",
        "target_port": 8080,
        "health_check_path": "/ping",
        "idle_timeout_seconds": 60,
        **overrides,
    }
    return ApplicationLoadBalancer(stack, "alb", props=ApplicationLoadBalancerProps(**props))


def test_by_default_the_load_balancer_is_internal_drops_invalid_headers_and_logs_access():
    lb = only(synth_with(_alb), "aws_lb")
    assert lb["internal"] is True
    assert lb["drop_invalid_header_fields"] is True
    assert lb["access_logs"] == {"bucket": "p-access-logs", "prefix": "alb", "enabled": True}
    assert lb["enable_deletion_protection"] is False


def test_deletion_protection_is_on_when_asked():
    assert only(synth_with(lambda s: _alb(s, deletion_protection=True)), "aws_lb")["enable_deletion_protection"]


def test_targets_are_health_checked_on_ping():
    group = only(synth_with(_alb), "aws_lb_target_group")
    assert group["health_check"]["path"] == "/ping"
    assert group["target_type"] == "ip" and group["port"] == 8080


def test_an_internal_load_balancer_admits_only_the_vpc_and_talks_only_to_targets():
    doc = synth_with(_alb)
    ingress = only(doc, "aws_vpc_security_group_ingress_rule")
    assert (ingress["cidr_ipv4"], ingress["from_port"]) == ("10.0.0.0/16", 80)
    egress = only(doc, "aws_vpc_security_group_egress_rule")
    assert (egress["cidr_ipv4"], egress["from_port"], egress["to_port"]) == ("10.0.0.0/16", 8080, 8080)


def test_with_a_certificate_it_serves_https_and_redirects_http():
    doc = synth_with(lambda s: _alb(s, internal=False, certificate_arn=CERT))
    listeners = {v["port"]: v for v in doc["resource"]["aws_lb_listener"].values()}
    assert listeners[443]["protocol"] == "HTTPS" and listeners[443]["certificate_arn"] == CERT
    assert listeners[443]["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert listeners[80]["default_action"][0]["type"] == "redirect"
    assert listeners[80]["default_action"][0]["redirect"] == {
        "port": "443",
        "protocol": "HTTPS",
        "status_code": "HTTP_301",
    }
    ingress = doc["resource"]["aws_vpc_security_group_ingress_rule"].values()
    assert {(r["cidr_ipv4"], r["from_port"]) for r in ingress} == {("0.0.0.0/0", 80), ("0.0.0.0/0", 443)}


def test_a_public_load_balancer_without_certificate_is_refused():
    with pytest.raises(ValueError, match="public .* needs certificate_arn"):
        synth_with(lambda s: _alb(s, internal=False))


def test_a_name_longer_than_32_characters_is_refused():
    with pytest.raises(ValueError, match="longer than 32 characters"):
        synth_with(lambda s: _alb(s, name="x" * 33))
