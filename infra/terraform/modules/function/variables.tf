variable "name" {
  type        = string
  description = "Function name; also names its role (\"<name>-role\") and log group (/aws/lambda/<name>)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.name))
    error_message = "Function names are up to 64 characters of [A-Za-z0-9_-]; 59 leaves room for \"-role\"."
  }
}

variable "description" {
  type        = string
  description = "What the function does, shown in the console."
  default     = ""
}

variable "artifact_path" {
  type        = string
  description = "Path of the function's zip, built by infra/packaging/build.py."

  validation {
    condition     = endswith(var.artifact_path, ".zip")
    error_message = "artifact_path must be a .zip built by infra/packaging/build.py."
  }
}

variable "handler" {
  type        = string
  description = "Entry point, module.attribute (Chalice: app.app for routes, app.<name> for an SQS handler)."

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like module.attribute."
  }
}

variable "runtime" {
  type        = string
  description = "Lambda runtime; must be the Python the layer's wheels and .pyc were built for."
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.runtime))
    error_message = "runtime must be a python3.x runtime."
  }
}

variable "architecture" {
  type        = string
  description = "Instruction set; the layer's compiled wheels are per architecture."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "layer_arns" {
  type        = list(string)
  description = "Layer version ARNs, in order."
  default     = []
}

variable "memory_size" {
  type        = number
  description = "Memory in MB (CPU scales with it)."

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "Lambda memory is 128 to 10240 MB."
  }
}

variable "timeout" {
  type        = number
  description = "Timeout in seconds."

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "A Lambda timeout is 1 to 900 seconds."
  }
}

variable "reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions; -1 leaves the function in the account's unreserved pool."
  default     = -1

  validation {
    condition     = var.reserved_concurrency >= -1
    error_message = "reserved_concurrency is -1 (unreserved) or a count."
  }
}

variable "environment" {
  type        = map(string)
  description = "Environment variables. Never secrets: those are Secrets Manager ARNs resolved by the code."
  default     = {}
}

variable "policy_statements" {
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
  }))
  description = "The function's own permissions (logs, tracing and VPC networking are added by the module)."
  default     = []

  validation {
    condition     = alltrue([for s in var.policy_statements : can(regex("^[A-Za-z0-9]+$", s.sid))])
    error_message = "Statement sids are alphanumeric."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the environment variables and the log group; null uses AWS-owned keys."
  default     = null
}

variable "log_retention_days" {
  type        = number
  default     = 365
  description = "Retention of the function's log group."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "tracing" {
  type        = bool
  description = "Active X-Ray tracing (Powertools Tracer)."
  default     = true
}

variable "vpc" {
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  description = "Subnets and security groups when the function must reach RDS or ElastiCache; null runs it outside any VPC."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource of the function."
  default     = {}
}
