variable "name" {
  type        = string
  description = "Prefix of every resource and the API's fixed id; differs from the SAM stack's \"smsgw\" so both can live on one LocalStack."
  default     = "smsgw-tf"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter: 2-21 lowercase letters, digits and hyphens."
  }
}

variable "region" {
  type        = string
  description = "Region LocalStack emulates."
  default     = "us-east-1"
}

variable "localstack_endpoint" {
  type        = string
  description = "LocalStack's gateway."
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://", var.localstack_endpoint))
    error_message = "localstack_endpoint is an http(s) URL."
  }
}

variable "build_manifest" {
  type        = string
  description = "Path of build/manifest.json written by `make build`; null: <repo>/build/manifest.json."
  default     = null
}

variable "database_url" {
  type        = string
  description = "The local PostgreSQL (trust authentication, no password)."
  default     = "postgresql://postgres@127.0.0.1:5432/smsgw"
}

variable "redis_url" {
  type        = string
  description = "The local Redis."
  default     = "redis://127.0.0.1:6379/0"
}

variable "dispatch" {
  type = object({
    retry_base_seconds        = number
    retry_max_seconds         = number
    lease_seconds             = number
    provider_timeout_seconds  = number
    circuit_failure_threshold = number
    circuit_open_seconds      = number
  })
  description = "Dispatch retry, lease, provider timeout and circuit breaker settings; null keeps the module's defaults (tests deploy with retry_base_seconds = 0)."
  default     = null
}
