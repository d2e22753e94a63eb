"""``smsgw``: the operator command line. It talks to the same PostgreSQL, Redis and SQS
as the functions and does its work through the domain package
(``smsgw.operations`` and the modules it builds on)."""
