variable "name" {
  type        = string
  description = "Replication group id and prefix of its subnet group, parameter group, security group and secret."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,33}$", var.name))
    error_message = "name must start with a letter: lowercase letters, digits and hyphens, at most 34 characters (ElastiCache's limit is 40)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the replication group."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the cache subnet group."

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "At least one subnet is needed."
  }
}

variable "client_security_group_id" {
  type        = string
  description = "Security group of the functions: the only source allowed to connect."
}

variable "engine_version" {
  type        = string
  description = "Redis OSS engine version (7.x, what the gateway is tested against)."
  default     = "7.1"

  validation {
    condition     = can(regex("^7\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be a Redis 7.x version."
  }
}

variable "node_type" {
  type        = string
  description = "Cache node type."
  default     = "cache.t4g.small"
}

variable "replicas" {
  type        = number
  description = "Read replicas of the primary; 1 or more enables automatic failover and Multi-AZ."
  default     = 1

  validation {
    condition     = var.replicas >= 0 && var.replicas <= 5
    error_message = "replicas must be 0 to 5."
  }
}

variable "multi_az" {
  type        = bool
  description = "Automatic failover to a replica in another availability zone (needs replicas >= 1)."
  default     = true
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of daily snapshots (0 disables them; the data is rebuilt from PostgreSQL or expires within a day)."
  default     = 1

  validation {
    condition     = var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be 0 to 35."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for data at rest, the slow log and the auth token secret."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the slow log group."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
