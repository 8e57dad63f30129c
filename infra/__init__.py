"""Deployment infrastructure: the CloudFormation merge template and the post-package step (infra.finalize)."""
