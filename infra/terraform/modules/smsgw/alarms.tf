# CloudWatch alarms to one encrypted SNS topic: a DLQ that is not empty, messages
# waiting too long, API 5xx, function errors and throttles, Redis memory (noeviction),
# messages housekeeping had to resolve.

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarms.email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarms.email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]

  queues = {
    outbound  = { name = module.outbound.name, dlq_name = module.outbound.dlq_name, max_age = var.alarms.outbound_oldest_message_age_seconds }
    callbacks = { name = module.callbacks.name, dlq_name = module.callbacks.dlq_name, max_age = var.alarms.callbacks_oldest_message_age_seconds }
  }

  # Counts the housekeeping job publishes (namespace SmsGateway, dimension service).
  reconciled = {
    stuck_sending = {
      metric      = "ReconciledStuckSending"
      threshold   = var.alarms.stuck_sending_threshold
      description = "Messages were left sending past the retry window (their last receives ran out while PostgreSQL could not record them) and were marked failed RETRIES_EXHAUSTED. Check PostgreSQL, then the outbound DLQ (docs/operations.md)."
    }
    no_receipt = {
      metric      = "ReconciledNoReceipt"
      threshold   = var.alarms.no_receipt_threshold
      description = "Many sent messages got no delivery receipt within their window and were marked undelivered NO_RECEIPT: receipts refused (webhook 5xx) or a provider stopped sending them (docs/operations.md)."
    }
  }

  # ElastiCache reports memory per member cluster: <group>-001, -002, ...
  redis_members = var.redis.create ? [for i in range(1, 2 + var.elasticache.replicas) : format("%s-%03d", var.name, i)] : []
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = local.queues

  alarm_name          = "${each.value.dlq_name}-not-empty"
  alarm_description   = "Messages in ${each.value.dlq_name}: retries exhausted. Inspect and redrive (docs/operations.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = local.queues

  alarm_name          = "${each.value.name}-oldest-message-age"
  alarm_description   = "The oldest message in ${each.value.name} waits over ${each.value.max_age} s: the consumer is failing, throttled or too slow."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = each.value.max_age
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "API Gateway answered 5xx (ours or its own) more than ${var.alarms.api_5xx_threshold} times in 5 minutes."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = module.api.name, Stage = module.api.stage_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.api_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = module.function

  alarm_name          = "${each.value.name}-errors"
  alarm_description   = "${each.value.name} raised unhandled errors (a batch it could not report, a crash, a timeout)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.function_error_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = module.function

  alarm_name          = "${each.value.name}-throttles"
  alarm_description   = "${each.value.name} was throttled (account or reserved concurrency exhausted)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.function_throttle_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "reconciled" {
  for_each = local.reconciled

  alarm_name          = "${var.name}-reconciled-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = "SmsGateway"
  metric_name         = each.value.metric
  dimensions          = { service = "housekeeping" }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  for_each = toset(local.redis_members)

  alarm_name          = "${each.value}-memory"
  alarm_description   = "Redis ${each.value} uses over ${var.alarms.redis_memory_percent}% of its memory; with noeviction, writes (and so ingress) fail when it is full."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alarms.redis_memory_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
