output "api_url" {
  description = "Base URL of the API on LocalStack (path-style, works offline)."
  value       = "${var.localstack_endpoint}/_aws/execute-api/${module.smsgw.api_id}/${module.smsgw.api_stage}"
}

output "queue_urls" {
  description = "SQS queue URLs."
  value       = module.smsgw.queue_urls
}

output "function_names" {
  description = "Lambda function names."
  value       = module.smsgw.function_names
}
