variable "name" {
  type        = string
  description = "Identifier of the DB instance and prefix of its subnet group, parameter group and security group."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,50}$", var.name))
    error_message = "name must start with a letter: lowercase letters, digits and hyphens, at most 51 characters."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the instance."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the DB subnet group, in at least two availability zones."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An RDS subnet group needs subnets in at least two availability zones."
  }
}

variable "client_security_group_id" {
  type        = string
  description = "Security group of the functions: the only source allowed to connect."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL major (or major.minor) version."
  default     = "16"

  validation {
    condition     = can(regex("^1[5-9](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 15 or later (the schema is tested on 15)."
  }
}

variable "instance_class" {
  type        = string
  description = "DB instance class."
  default     = "db.t4g.small"
}

variable "allocated_storage" {
  type        = number
  description = "Initial storage in GiB (gp3)."
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20
    error_message = "gp3 storage starts at 20 GiB."
  }
}

variable "max_allocated_storage" {
  type        = number
  description = "Ceiling of storage autoscaling in GiB."
  default     = 200
}

variable "database_name" {
  type        = string
  description = "Name of the database created on the instance."
  default     = "smsgw"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a lowercase identifier."
  }
}

variable "master_username" {
  type        = string
  description = "Master user; its password is generated and rotated by RDS in Secrets Manager, never seen by Terraform."
  default     = "smsgw"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "admin", "rdsadmin"], var.master_username)
    error_message = "master_username must be a lowercase identifier other than the reserved postgres, admin and rdsadmin."
  }
}

variable "multi_az" {
  type        = bool
  description = "A standby in a second availability zone."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery window)."
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be 1 to 35."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse deletion of the instance (turn off deliberately before a destroy)."
  default     = true
}

variable "monitoring_interval" {
  type        = number
  description = "Enhanced Monitoring interval in seconds (0 disables it)."
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be 0, 1, 5, 10, 15, 30 or 60."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for storage, Performance Insights and the master user secret."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the exported PostgreSQL logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
