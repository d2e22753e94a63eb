"""The one SQS partial-batch consumer: record parsing, the batch's answer to SQS
(``batchItemFailures``), visibility backoff, and the handler wrapper.

Every SQS-triggered entry point (dispatch, the callbacks consumer) is built from it, so
each consumer only decides, per message, acknowledge or come back after N seconds.
"""
