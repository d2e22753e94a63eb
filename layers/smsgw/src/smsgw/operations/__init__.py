"""Operator actions, used by the CLI: clients, providers, messages, queues and DLQ
redrive.

Each function takes its dependencies (Database, Redis client, SQS client) as
arguments and raises ``OperationError`` for what the operator got wrong (an unknown
id, a duplicate name); dependency failures surface as ``DependencyError``, redis or
botocore errors, which the entry point turns into one line for the operator.
"""
