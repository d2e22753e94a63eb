"""The scheduled housekeeping job of the webhooks app: reconciliation of messages that
would otherwise wait for ever (``sent`` without a receipt, ``sending`` without a record)
and retention of old callbacks, receipts and message text (see docs/operations.md)."""
