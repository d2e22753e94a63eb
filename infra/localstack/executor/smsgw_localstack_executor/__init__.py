"""LocalStack Lambda executor running execution environments as host subprocesses."""

__version__ = "0.1.0"
