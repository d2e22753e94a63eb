"""Signed status callbacks to clients: the outbox relay, the callbacks-queue consumer,
the SSRF-guarded HTTP sender (see docs/callbacks.md)."""
