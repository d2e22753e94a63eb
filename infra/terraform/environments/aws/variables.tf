variable "region" {
  type        = string
  description = "AWS region of the deployment."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region looks like eu-west-1."
  }
}

variable "allowed_account_ids" {
  type        = list(string)
  description = "The only AWS account ids this configuration may touch."

  validation {
    condition     = length(var.allowed_account_ids) > 0 && alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids lists 12-digit account ids."
  }
}

variable "name" {
  type        = string
  description = "Prefix of every resource name; one per deployment in an account (e.g. smsgw, smsgw-staging)."
  default     = "smsgw"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter: 2-21 lowercase letters, digits and hyphens."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (cost allocation, owner)."
  default     = {}
}

variable "build_manifest" {
  type        = string
  description = "Path of build/manifest.json written by `make build`; null: <repo>/build/manifest.json."
  default     = null
}

variable "artifacts" {
  type = object({
    layer    = string
    ingress  = string
    webhooks = string
    dispatch = string
  })
  description = "Artifact paths, overriding the manifest (e.g. zips a CI job downloaded); null reads the manifest."
  default     = null
}

variable "vpc_id" {
  type        = string
  description = "VPC of the functions, RDS and ElastiCache."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id looks like vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets in at least two availability zones, with a route to a NAT gateway (SMS providers, AWS APIs)."

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for id in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "At least two subnet ids (subnet-...)."
  }
}

variable "extra_function_security_group_ids" {
  type        = list(string)
  description = "Extra security groups for the functions (e.g. one an existing database admits)."
  default     = []
}

variable "function_egress_cidr_blocks" {
  type        = list(string)
  description = "Where the functions may open HTTPS connections (AWS APIs, SMS providers)."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.function_egress_cidr_blocks : can(cidrhost(cidr, 0))])
    error_message = "function_egress_cidr_blocks lists IPv4 CIDR blocks."
  }
}

variable "functions" {
  type = map(object({
    memory_size          = number
    timeout              = number
    reserved_concurrency = number
  }))
  description = "Memory, timeout and reserved concurrency per function; null keeps the module's defaults (those of the local stack)."
  default     = null
}

variable "outbound_queue" {
  type = object({
    max_receive_count          = number
    visibility_timeout_seconds = number
    message_retention_seconds  = number
    batch_size                 = number
    batching_window_seconds    = number
    maximum_concurrency        = number
  })
  description = "Outbound queue and dispatch event source settings; null keeps the module's defaults."
  default     = null
}

variable "callbacks_queue" {
  type = object({
    max_receive_count          = number
    visibility_timeout_seconds = number
    message_retention_seconds  = number
    batch_size                 = number
    batching_window_seconds    = number
    maximum_concurrency        = number
  })
  description = "Callbacks queue and consumer event source settings; null keeps the module's defaults."
  default     = null
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
  description = "Dispatch retry, lease, provider timeout and circuit breaker settings; null keeps the module's defaults."
  default     = null
}

variable "callbacks" {
  type = object({
    retry_base_seconds  = number
    retry_max_seconds   = number
    timeout_seconds     = number
    relay_lease_seconds = number
  })
  description = "Client callback retry backoff, POST timeout and relay lease; null keeps the module's defaults."
  default     = null
}

variable "housekeeping" {
  type = object({
    receipt_window_seconds         = number
    callback_retention_days        = number
    receipt_retention_days         = number
    pending_receipt_retention_days = number
    message_text_retention_days    = number
  })
  description = "Receipt window and retention periods of the housekeeping job; null keeps the module's defaults."
  default     = null
}

variable "database" {
  type = object({
    create     = bool
    url        = optional(string)
    secret_arn = optional(string)
  })
  description = "PostgreSQL: create an RDS instance (default, sized by var.rds), or use an existing one (create = false, url without password, secret_arn with the credentials)."
  default     = { create = true }

  validation {
    condition     = var.database.create || var.database.secret_arn != null
    error_message = "An existing database on AWS needs secret_arn: credentials never go in the URL."
  }
}

variable "rds" {
  type = object({
    engine_version        = optional(string, "16")
    instance_class        = optional(string, "db.t4g.small")
    allocated_storage     = optional(number, 20)
    max_allocated_storage = optional(number, 200)
    multi_az              = optional(bool, true)
    backup_retention_days = optional(number, 7)
    deletion_protection   = optional(bool, true)
  })
  description = "The RDS instance when database.create: version, class, storage in GiB (initial, autoscaling ceiling), Multi-AZ, backup days, deletion protection."
  default = {
    engine_version        = "16"
    instance_class        = "db.t4g.small"
    allocated_storage     = 20
    max_allocated_storage = 200
    multi_az              = true
    backup_retention_days = 7
    deletion_protection   = true
  }
}

variable "redis" {
  type = object({
    create     = bool
    url        = optional(string)
    secret_arn = optional(string)
  })
  description = "Redis (cluster mode disabled): create an ElastiCache replication group (default, sized by var.elasticache), or use an existing one (create = false, rediss:// url, secret_arn with its AUTH token)."
  default     = { create = true }
}

variable "elasticache" {
  type = object({
    engine_version          = optional(string, "7.1")
    node_type               = optional(string, "cache.t4g.small")
    replicas                = optional(number, 1)
    multi_az                = optional(bool, true)
    snapshot_retention_days = optional(number, 1)
  })
  description = "The ElastiCache replication group when redis.create: version, node type, replicas, Multi-AZ failover, snapshot days."
  default = {
    engine_version          = "7.1"
    node_type               = "cache.t4g.small"
    replicas                = 1
    multi_az                = true
    snapshot_retention_days = 1
  }
}

variable "stage_name" {
  type        = string
  description = "API stage, the last part of the base URL."
  default     = "v1"
}

variable "api_throttling_rate_limit" {
  type        = number
  description = "Requests per second the API accepts over all clients."
  default     = 200
}

variable "api_throttling_burst_limit" {
  type        = number
  description = "Burst of requests above the rate."
  default     = 400
}

variable "waf_web_acl_arn" {
  type        = string
  description = "Regional WAFv2 web ACL for the API stage; null for none."
  default     = null
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Set the account's API Gateway CloudWatch Logs role (once per account and region); false where another stack owns it."
  default     = true
}

variable "alarm_email" {
  type        = string
  description = "Email address subscribed to the alarm topic (confirm the subscription mail); null for none."
  default     = null
}

variable "kms_key_arn" {
  type        = string
  description = "Existing customer managed KMS key; null creates one for the deployment."
  default     = null
}

variable "log_level" {
  type        = string
  description = "Log level of the functions."
  default     = "INFO"
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group."
  default     = 365
}

variable "enable_sns_provider" {
  type        = bool
  description = "Let dispatch send SMS through Amazon SNS."
  default     = true
}
