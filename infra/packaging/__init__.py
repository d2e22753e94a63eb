"""Build the Lambda artifacts: the shared layer and one package per function."""
