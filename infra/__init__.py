"""Build and local-deployment tooling (run with the project venv from the repo root)."""
