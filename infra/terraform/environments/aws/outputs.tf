output "api_url" {
  description = "Base URL of the API: POST <api_url>/v1/sms."
  value       = module.smsgw.api_url
}

output "queue_urls" {
  description = "SQS queue URLs (outbound, outbound_dlq, callbacks, callbacks_dlq)."
  value       = module.smsgw.queue_urls
}

output "function_names" {
  description = "Lambda function names."
  value       = module.smsgw.function_names
}

output "log_groups" {
  description = "CloudWatch log groups of the functions and the API."
  value       = module.smsgw.log_groups
}

output "database_url" {
  description = "PostgreSQL URL without credentials."
  value       = module.smsgw.database_url
}

output "database_secret_arn" {
  description = "Secret with the database credentials."
  value       = module.smsgw.database_secret_arn
}

output "redis_url" {
  description = "Redis URL without credentials."
  value       = module.smsgw.redis_url
}

output "provider_secrets_arn" {
  description = "Secret to fill with SMS provider credentials."
  value       = module.smsgw.provider_secrets_arn
}

output "webhook_secrets_arn" {
  description = "Secret to fill with the providers' receipt signing secrets."
  value       = module.smsgw.webhook_secrets_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.smsgw.alarm_topic_arn
}
