"""Ingress: accept an SMS request, decide in one Redis call, enqueue to SQS."""
