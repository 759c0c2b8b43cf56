"""Kubernetes manifests of the workloads on EKS, generated at synth with cdk8s (imported only when EKS is chosen)."""
