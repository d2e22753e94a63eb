"""Dispatch: the SQS batch consumer that persists, routes, sends, fails over and retries.

``service.DispatchService`` is the entry point; ``repository`` (PostgreSQL), ``circuit``
(Redis), ``routing`` and ``backoff`` (pure) are its parts.
"""
