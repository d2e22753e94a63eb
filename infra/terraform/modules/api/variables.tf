variable "name" {
  type        = string
  description = "Name of the REST API (and prefix of its access log group)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.name))
    error_message = "name must be 1-100 characters of [A-Za-z0-9_-]."
  }
}

variable "stage_name" {
  type        = string
  description = "Stage name: the last part of the base URL."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.stage_name))
    error_message = "stage_name must be 1-64 characters of [A-Za-z0-9_-]."
  }
}

variable "routes" {
  type        = map(string)
  description = "\"METHOD /path\" (ANY for every method, {param} and {proxy+} as in API Gateway) -> key of the function in var.functions."

  validation {
    condition     = alltrue([for route in keys(var.routes) : can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[A-Za-z0-9_{}+/.-]*$", route))])
    error_message = "Route keys look like \"POST /v1/sms\"."
  }
}

variable "functions" {
  type = map(object({
    name       = string
    invoke_arn = string
  }))
  description = "The Lambda functions the routes point at (Lambda proxy integrations)."
}

variable "integration_timeout_ms" {
  type        = number
  description = "How long API Gateway waits for a function (its limit is 29 s by default)."
  default     = 29000

  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 29000
    error_message = "integration_timeout_ms must be 50 to 29000."
  }
}

variable "throttling_rate_limit" {
  type        = number
  description = "Steady-state requests per second the stage accepts, over every client (per-client limits are the gateway's quotas)."

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be positive."
  }
}

variable "throttling_burst_limit" {
  type        = number
  description = "Burst of requests the stage accepts above the rate."

  validation {
    condition     = var.throttling_burst_limit > 0 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a positive whole number."
  }
}

variable "execution_logging_level" {
  type        = string
  description = "API Gateway execution logs (OFF, ERROR or INFO); request bodies are never logged (they hold phone numbers and message text)."
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level is OFF, ERROR or INFO."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 365
  description = "Retention of the access log group."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the access log group; null uses CloudWatch Logs' own encryption."
  default     = null
}

variable "tracing" {
  type        = bool
  description = "X-Ray tracing on the stage."
  default     = true
}

variable "waf_web_acl_arn" {
  type        = string
  description = "Regional WAFv2 web ACL to associate with the stage; null for none."
  default     = null
}

variable "api_tags" {
  type        = map(string)
  description = "Extra tags on the REST API only (LocalStack reads _custom_id_ from here for a fixed API id)."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
