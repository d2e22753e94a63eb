# outbound: ingress -> dispatch. callbacks: status changes -> the callbacks consumer.
# Each with its DLQ; visibility checked against its consumer's timeout.

module "outbound" {
  source = "../queue-with-dlq"

  name                       = "${var.name}-outbound"
  max_receive_count          = var.outbound_queue.max_receive_count
  visibility_timeout_seconds = var.outbound_queue.visibility_timeout_seconds
  consumer_timeout_seconds   = var.functions["dispatch"].timeout
  message_retention_seconds  = var.outbound_queue.message_retention_seconds
  kms_key_arn                = local.kms_key_arn
  tags                       = var.tags
}

module "callbacks" {
  source = "../queue-with-dlq"

  name                       = "${var.name}-callbacks"
  max_receive_count          = var.callbacks_queue.max_receive_count
  visibility_timeout_seconds = var.callbacks_queue.visibility_timeout_seconds
  consumer_timeout_seconds   = var.functions["callbacks"].timeout
  message_retention_seconds  = var.callbacks_queue.message_retention_seconds
  kms_key_arn                = local.kms_key_arn
  tags                       = var.tags
}
