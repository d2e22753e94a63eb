"""plux entry point: `LAMBDA_RUNTIME_EXECUTOR=host-subprocess` selects this executor.

LocalStack's `get_runtime_executor()` loads the plugin by name from the namespace
`localstack.lambda.runtime_executor` and calls `load()` for the executor class. The import
of the executor is deferred to `load()`, as plux expects, so plugin discovery stays cheap.
"""

from __future__ import annotations

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostSubprocessExecutorPlugin(RuntimeExecutorPlugin):
    name = "host-subprocess"

    def load(self, *args: Any, **kwargs: Any) -> type:
        from smsgw_localstack_executor.executor import HostSubprocessRuntimeExecutor

        return HostSubprocessRuntimeExecutor
