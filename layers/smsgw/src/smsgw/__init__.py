"""SMS gateway domain package.

Shared by every function (ingress, dispatch, webhooks) and the operator CLI, and
shipped as the Lambda layer. Nothing here imports from ``functions/``, and nothing
opens a connection at import time: clients are built lazily by each function's
composition root.
"""

__version__ = "0.1.0"
