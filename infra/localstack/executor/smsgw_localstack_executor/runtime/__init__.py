"""Scripts run inside an execution environment under the function's Python (stdlib only).

They are executed as files by the executor, never imported by LocalStack.
"""
