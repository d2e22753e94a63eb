output "api_url" {
  description = "Base URL of the API, e.g. https://<id>.execute-api.<region>.amazonaws.com/v1 (POST <api_url>/v1/sms)."
  value       = module.api.url
}

output "api_id" {
  description = "REST API id."
  value       = module.api.id
}

output "api_stage" {
  description = "Stage of the API."
  value       = module.api.stage_name
}

output "queue_urls" {
  description = "SQS queue URLs: outbound, outbound_dlq, callbacks, callbacks_dlq."
  value = {
    outbound      = module.outbound.url
    outbound_dlq  = module.outbound.dlq_url
    callbacks     = module.callbacks.url
    callbacks_dlq = module.callbacks.dlq_url
  }
}

output "function_names" {
  description = "Lambda function names by role: ingress, webhooks, dispatch, callbacks."
  value       = { for name, fn in module.function : name => fn.name }
}

output "log_groups" {
  description = "CloudWatch log groups: one per function, and the API's access log."
  value       = merge({ for name, fn in module.function : name => fn.log_group_name }, { api_access = module.api.access_log_group_name })
}

output "layer_version_arn" {
  description = "ARN of the shared layer's version in use."
  value       = aws_lambda_layer_version.deps.arn
}

output "database_url" {
  description = "PostgreSQL URL without credentials (the functions' DATABASE_URL)."
  value       = local.database_url
}

output "database_secret_arn" {
  description = "Secret with the database credentials (JSON username/password; RDS-managed when created here)."
  value       = local.database_secret_arn
}

output "redis_url" {
  description = "Redis URL without credentials (the functions' REDIS_URL)."
  value       = local.redis_url
}

output "redis_secret_arn" {
  description = "Secret with the Redis AUTH token (JSON {\"password\": ...}), if any."
  value       = local.redis_secret_arn
}

output "provider_secrets_arn" {
  description = "Secret to fill with SMS provider credentials (JSON NAME -> value)."
  value       = aws_secretsmanager_secret.providers.arn
}

output "webhook_secrets_arn" {
  description = "Secret to fill with the providers' receipt signing secrets (JSON NAME -> value)."
  value       = aws_secretsmanager_secret.webhook_signing.arn
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "KMS key of the deployment."
  value       = local.kms_key_arn
}

output "function_security_group_id" {
  description = "Security group of the functions when they run in the VPC, else null."
  value       = one(aws_security_group.functions[*].id)
}
