# The shared layer, the functions and what invokes them besides the API: two SQS event
# source mappings and the schedules of the relay and of housekeeping. The webhooks
# artifact serves four functions (its HTTP app, the callbacks queue consumer, the outbox
# relay, the housekeeping job): Chalice makes one Lambda function per handler of an app.

locals {
  function_specs = {
    ingress = {
      artifact    = var.artifacts.ingress
      handler     = "app.app"
      description = "POST /v1/sms: authenticate, validate, deduplicate, count quota, queue"
      producer    = true
    }
    webhooks = {
      artifact    = var.artifacts.webhooks
      handler     = "app.app"
      description = "Status and history API, provider delivery receipts"
      producer    = true
    }
    dispatch = {
      artifact    = var.artifacts.dispatch
      handler     = "app.dispatch"
      description = "Consumer of the outbound queue: persist, route, send, fail over, retry"
      producer    = true
    }
    callbacks = {
      artifact    = var.artifacts.webhooks
      handler     = "app.deliver_callbacks"
      description = "Consumer of the callbacks queue: signed status callbacks to clients"
      producer    = false
    }
    relay = {
      artifact    = var.artifacts.webhooks
      handler     = "app.relay_callbacks"
      description = "Every minute: relays outbox rows nobody relayed to the callbacks queue"
      producer    = true
    }
    housekeeping = {
      artifact    = var.artifacts.webhooks
      handler     = "app.housekeeping"
      description = "Every 5 minutes: resolves messages stuck in sent or sending, purges old rows and text"
      producer    = true
    }
  }

  # Environment variable NAMES are held to smsgw.config.ENV_NAMES and to the local
  # stack's template by tests/infrastructure. Values are never secrets.
  environment = {
    common = {
      DATABASE_URL                 = local.database_url
      REDIS_URL                    = local.redis_url
      REDIS_PREFIX                 = var.redis_prefix
      OUTBOUND_QUEUE_URL           = module.outbound.url
      CALLBACKS_QUEUE_URL          = module.callbacks.url
      POWERTOOLS_METRICS_NAMESPACE = "SmsGateway"
      LOG_LEVEL                    = var.log_level
      POWERTOOLS_LOG_LEVEL         = var.log_level
    }
    # FUNCTION_TIMEOUT_SECONDS: each function's own timeout, from which every
    # dependency wait is derived (smsgw/budget.py).
    ingress = {
      POWERTOOLS_SERVICE_NAME  = "ingress"
      FUNCTION_TIMEOUT_SECONDS = tostring(var.functions["ingress"].timeout)
    }
    webhooks = {
      POWERTOOLS_SERVICE_NAME  = "webhooks"
      FUNCTION_TIMEOUT_SECONDS = tostring(var.functions["webhooks"].timeout)
    }
    dispatch = {
      POWERTOOLS_SERVICE_NAME  = "dispatch"
      FUNCTION_TIMEOUT_SECONDS = tostring(var.functions["dispatch"].timeout)
      # Read at import by Chalice's @app.on_sqs_message decorator.
      OUTBOUND_QUEUE_NAME       = module.outbound.name
      MAX_RECEIVE_COUNT         = tostring(var.outbound_queue.max_receive_count)
      RETRY_BASE_SECONDS        = tostring(var.dispatch.retry_base_seconds)
      RETRY_MAX_SECONDS         = tostring(var.dispatch.retry_max_seconds)
      DISPATCH_LEASE_SECONDS    = tostring(var.dispatch.lease_seconds)
      PROVIDER_TIMEOUT_SECONDS  = tostring(var.dispatch.provider_timeout_seconds)
      CIRCUIT_FAILURE_THRESHOLD = tostring(var.dispatch.circuit_failure_threshold)
      CIRCUIT_OPEN_SECONDS      = tostring(var.dispatch.circuit_open_seconds)
    }
    callbacks = {
      POWERTOOLS_SERVICE_NAME  = "callbacks"
      FUNCTION_TIMEOUT_SECONDS = tostring(var.functions["callbacks"].timeout)
      # Read at import by Chalice's @app.on_sqs_message decorator.
      CALLBACKS_QUEUE_NAME        = module.callbacks.name
      CALLBACK_MAX_RECEIVE_COUNT  = tostring(var.callbacks_queue.max_receive_count)
      CALLBACK_RETRY_BASE_SECONDS = tostring(var.callbacks.retry_base_seconds)
      CALLBACK_RETRY_MAX_SECONDS  = tostring(var.callbacks.retry_max_seconds)
      CALLBACK_TIMEOUT_SECONDS    = tostring(var.callbacks.timeout_seconds)
    }
    relay = {
      POWERTOOLS_SERVICE_NAME      = "relay"
      FUNCTION_TIMEOUT_SECONDS     = tostring(var.functions["relay"].timeout)
      CALLBACK_RELAY_LEASE_SECONDS = tostring(var.callbacks.relay_lease_seconds)
    }
    housekeeping = {
      POWERTOOLS_SERVICE_NAME  = "housekeeping"
      FUNCTION_TIMEOUT_SECONDS = tostring(var.functions["housekeeping"].timeout)
      # Dispatch's retry settings: a message still sending after the whole retry window
      # has no SQS record left.
      MAX_RECEIVE_COUNT              = tostring(var.outbound_queue.max_receive_count)
      RETRY_BASE_SECONDS             = tostring(var.dispatch.retry_base_seconds)
      RETRY_MAX_SECONDS              = tostring(var.dispatch.retry_max_seconds)
      DISPATCH_LEASE_SECONDS         = tostring(var.dispatch.lease_seconds)
      RECEIPT_WINDOW_SECONDS         = tostring(var.housekeeping.receipt_window_seconds)
      CALLBACK_RETENTION_DAYS        = tostring(var.housekeeping.callback_retention_days)
      RECEIPT_RETENTION_DAYS         = tostring(var.housekeeping.receipt_retention_days)
      PENDING_RECEIPT_RETENTION_DAYS = tostring(var.housekeeping.pending_receipt_retention_days)
      MESSAGE_TEXT_RETENTION_DAYS    = tostring(var.housekeeping.message_text_retention_days)
    }
  }

  # AWS only: where the credentials are (Secrets Manager ARNs), set when there is one.
  secret_environment = {
    common = {
      DATABASE_SECRET_ARN = local.database_secret_arn
      REDIS_SECRET_ARN    = local.redis_secret_arn
    }
    ingress      = {}
    webhooks     = { WEBHOOK_SECRETS_ARN = aws_secretsmanager_secret.webhook_signing.arn }
    dispatch     = { PROVIDER_SECRETS_ARN = aws_secretsmanager_secret.providers.arn }
    callbacks    = {}
    relay        = {}
    housekeeping = {}
  }

  # Local stacks only (var.allow_loopback_callback_targets): callbacks to loopback
  # addresses, over plain http too, which the SSRF guard refuses in production.
  local_only_environment = {
    common       = {}
    ingress      = {}
    webhooks     = {}
    dispatch     = {}
    callbacks    = { CALLBACK_ALLOW_LOOPBACK = "true", CALLBACK_ALLOW_HTTP = "true" }
    relay        = {}
    housekeeping = {}
  }

  # Secrets each function may read (GetSecretValue), matching secret_environment.
  function_secrets = {
    for name in keys(local.function_specs) : name => compact(concat(
      [local.database_secret_arn, local.redis_secret_arn],
      [for arn in values(local.secret_environment[name]) : arn],
    ))
  }

  function_environment = {
    for name in keys(local.function_specs) : name => {
      for key, value in merge(
        local.environment.common,
        local.environment[name],
        local.secret_environment.common,
        local.secret_environment[name],
        var.allow_loopback_callback_targets ? local.local_only_environment.common : {},
        var.allow_loopback_callback_targets ? local.local_only_environment[name] : {},
      ) : key => value if value != null
    }
  }
}

resource "aws_lambda_layer_version" "deps" {
  layer_name               = "${var.name}-deps"
  description              = "smsgw domain package, its pinned dependencies and Chalice's runtime, precompiled"
  filename                 = var.artifacts.layer
  source_code_hash         = filebase64sha256(var.artifacts.layer)
  compatible_runtimes      = ["python3.12"]
  compatible_architectures = ["x86_64"]

  # An old version stays until nothing uses it, so a rollback keeps working.
  skip_destroy = true
}

module "function" {
  source   = "../function"
  for_each = local.function_specs

  name                 = "${var.name}-${each.key}"
  description          = each.value.description
  artifact_path        = each.value.artifact
  handler              = each.value.handler
  runtime              = "python3.12"
  architecture         = "x86_64"
  layer_arns           = [aws_lambda_layer_version.deps.arn]
  memory_size          = var.functions[each.key].memory_size
  timeout              = var.functions[each.key].timeout
  reserved_concurrency = var.functions[each.key].reserved_concurrency
  environment          = local.function_environment[each.key]
  policy_statements    = concat(local.function_policies[each.key], local.common_policies[each.key])
  kms_key_arn          = local.kms_key_arn
  log_retention_days   = var.log_retention_days
  tracing              = var.tracing
  tags                 = var.tags

  vpc = local.in_vpc ? {
    subnet_ids         = var.network.subnet_ids
    security_group_ids = concat(aws_security_group.functions[*].id, var.network.security_group_ids)
  } : null
}

locals {
  consumers = {
    outbound  = { queue_arn = module.outbound.arn, function = "dispatch", settings = var.outbound_queue }
    callbacks = { queue_arn = module.callbacks.arn, function = "callbacks", settings = var.callbacks_queue }
  }
}

resource "aws_lambda_event_source_mapping" "queue" {
  for_each = local.consumers

  event_source_arn                   = each.value.queue_arn
  function_name                      = module.function[each.value.function].arn
  batch_size                         = each.value.settings.batch_size
  maximum_batching_window_in_seconds = each.value.settings.batching_window_seconds
  # One failed record is retried alone, not its whole batch.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = each.value.settings.maximum_concurrency
  }
}

# The outbox relay runs every minute (Chalice's @app.schedule(Rate(1, MINUTES))).
resource "aws_cloudwatch_event_rule" "relay" {
  name                = "${var.name}-callbacks-relay"
  description         = "Relay callback outbox rows that were not relayed at commit time"
  schedule_expression = "rate(1 minute)"
  tags                = var.tags

  lifecycle {
    precondition {
      # A relay still running when its lease ends would race the next one.
      condition     = var.functions["relay"].timeout < var.callbacks.relay_lease_seconds
      error_message = "The relay's timeout must be shorter than callbacks.relay_lease_seconds."
    }
  }
}

resource "aws_cloudwatch_event_target" "relay" {
  rule = aws_cloudwatch_event_rule.relay.name
  arn  = module.function["relay"].arn
}

resource "aws_lambda_permission" "relay_schedule" {
  statement_id  = "events-relay-schedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function["relay"].name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.relay.arn
}

# Housekeeping runs every 5 minutes (Chalice's @app.schedule(Rate(5, MINUTES))). Two runs
# that overlap skip each other's rows (FOR UPDATE SKIP LOCKED).
resource "aws_cloudwatch_event_rule" "housekeeping" {
  name                = "${var.name}-housekeeping"
  description         = "Reconcile messages stuck in sent or sending; purge old callbacks, receipts and message text"
  schedule_expression = "rate(5 minutes)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "housekeeping" {
  rule = aws_cloudwatch_event_rule.housekeeping.name
  arn  = module.function["housekeeping"].arn
}

resource "aws_lambda_permission" "housekeeping_schedule" {
  statement_id  = "events-housekeeping-schedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function["housekeeping"].name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.housekeeping.arn
}
