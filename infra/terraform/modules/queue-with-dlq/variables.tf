variable "name" {
  type        = string
  description = "Name of the source queue; its dead-letter queue is \"<name>-dlq\"."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "Queue names are 1-80 characters of [A-Za-z0-9_-]; 76 leaves room for \"-dlq\"."
  }
}

variable "max_receive_count" {
  type        = number
  description = "Receives of a message before SQS moves it to the dead-letter queue (the redrive policy's maxReceiveCount)."

  validation {
    condition     = var.max_receive_count >= 2 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 2 to 1000 (1 would give a failed batch no retry at all)."
  }
}

variable "visibility_timeout_seconds" {
  type        = number
  description = "Visibility timeout of the source queue; at least 6 times consumer_timeout_seconds (AWS's rule for a Lambda event source)."

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "SQS allows a visibility timeout of 0 to 43200 seconds."
  }
}

variable "consumer_timeout_seconds" {
  type        = number
  description = "Timeout of the Lambda function that consumes the queue; the visibility timeout is checked against it."

  validation {
    condition     = var.consumer_timeout_seconds >= 1 && var.consumer_timeout_seconds <= 900
    error_message = "A Lambda timeout is 1 to 900 seconds."
  }
}

variable "message_retention_seconds" {
  type        = number
  description = "How long the source queue keeps a message."
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "SQS keeps messages 60 seconds to 14 days (1209600)."
  }
}

variable "dlq_message_retention_seconds" {
  type        = number
  description = "How long the dead-letter queue keeps a message; the default, 14 days, is SQS's maximum."
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "SQS keeps messages 60 seconds to 14 days (1209600)."
  }
}

variable "receive_wait_time_seconds" {
  type        = number
  description = "Long polling wait of ReceiveMessage for consumers other than Lambda (the operator CLI)."
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "SQS long polling waits 0 to 20 seconds."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for server-side encryption of both queues; null uses SQS-managed encryption (SSE-SQS)."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for both queues."
  default     = {}
}
