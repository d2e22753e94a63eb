"""Logger and metrics shared by every function (aws-lambda-powertools).

The service name is Powertools' own POWERTOOLS_SERVICE_NAME (set per function by the
deployment), which Powertools reads itself. Rules for
every log line: phone numbers masked (``mask_phone``), no message text, no secrets or
API keys; the tracking id is the correlation id.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "SmsGateway"


class _CurrentStdoutHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stdout is at the time of the call, not at import:
    Lambda's runtime and test harnesses replace stdout after our modules load."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


logger = Logger(use_rfc3339=True, logger_handler=_CurrentStdoutHandler())
metrics = Metrics(namespace=NAMESPACE)


def flush_metrics() -> None:
    """Write the invocation's EMF line, if it recorded any metric (Powertools warns
    on an empty flush, and an empty line is noise in the logs)."""
    if metrics.metric_set:
        metrics.flush_metrics()


__all__ = ["NAMESPACE", "MetricUnit", "flush_metrics", "logger", "metrics"]
