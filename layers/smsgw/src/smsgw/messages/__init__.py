"""The read model of a message: the one SQL that reads a message with its timeline and
attempts, and the one that lists messages, for every reader (the client status API,
the operator CLI)."""
