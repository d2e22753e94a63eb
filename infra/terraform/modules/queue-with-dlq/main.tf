# A source queue and its dead-letter queue, both encrypted at rest, TLS-only, with the
# redrive in both directions (redrive policy on the source, redrive-allow on the DLQ).

locals {
  kms_encrypted = var.kms_key_arn != null
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  receive_wait_time_seconds = var.receive_wait_time_seconds

  # One of the two is set: a customer managed key, or SQS-managed SSE.
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_encrypted ? 300 : null
  sqs_managed_sse_enabled           = local.kms_encrypted ? null : true

  tags = var.tags
}

resource "aws_sqs_queue" "main" {
  name                       = var.name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = var.receive_wait_time_seconds

  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.kms_encrypted ? 300 : null
  sqs_managed_sse_enabled           = local.kms_encrypted ? null : true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      # A batch still being processed must not become visible to a second poller;
      # Lambda's event source mapping refuses a queue below 6 x the function timeout.
      condition     = var.visibility_timeout_seconds >= 6 * var.consumer_timeout_seconds
      error_message = "visibility_timeout_seconds (${var.visibility_timeout_seconds}) must be at least 6 x consumer_timeout_seconds (${var.consumer_timeout_seconds})."
    }
    precondition {
      # The DLQ must outlive the source queue's retention, or a message moved near the
      # end of its life expires in the DLQ almost at once (SQS keeps the enqueue time).
      condition     = var.dlq_message_retention_seconds >= var.message_retention_seconds
      error_message = "dlq_message_retention_seconds must be at least message_retention_seconds."
    }
  }
}

# Only the source queue may use this DLQ. A separate resource: inside the DLQ it would
# make the two queues depend on each other.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main.arn]
  })
}

data "aws_iam_policy_document" "tls_only" {
  for_each = {
    main = aws_sqs_queue.main.arn
    dlq  = aws_sqs_queue.dlq.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tls_only" {
  for_each = data.aws_iam_policy_document.tls_only

  queue_url = each.key == "main" ? aws_sqs_queue.main.id : aws_sqs_queue.dlq.id
  policy    = each.value.json
}
