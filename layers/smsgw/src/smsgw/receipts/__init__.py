"""Delivery receipts from providers: verified by the provider's adapter, applied
forward-only, parked when they outrun dispatch (see docs/callbacks.md)."""
