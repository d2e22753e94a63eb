"""The client-facing read API: one message with its timeline, the provider list."""
