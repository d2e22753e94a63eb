# Settings of one gateway deployment. Defaults are the production-ready values the local
# stack (infra/sam/template.yaml) also uses; tests/infrastructure holds the two together.

variable "name" {
  type        = string
  description = "Prefix of every resource name (queues <name>-outbound, functions <name>-ingress, ...)."
  default     = "smsgw"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must start with a letter: 2-21 lowercase letters, digits and hyphens."
  }
}

variable "artifacts" {
  type = object({
    layer    = string
    ingress  = string
    webhooks = string
    dispatch = string
  })
  description = "Paths of the build artifacts (`make build`: build/manifest.json lists them): the shared layer and one zip per function."

  validation {
    condition     = alltrue([for path in values(var.artifacts) : endswith(path, ".zip")])
    error_message = "Every artifact is a .zip written by infra/packaging/build.py."
  }
}

variable "functions" {
  type = map(object({
    memory_size          = number
    timeout              = number
    reserved_concurrency = number
  }))
  description = "Memory (MB), timeout (s) and reserved concurrency (-1: unreserved) of each function. Queue visibility timeouts are checked against the consumers' timeouts."
  nullable    = false
  default = {
    # Redis and SQS answer in milliseconds; 10 s bounds a stuck dependency well under
    # API Gateway's 29 s, so the client gets our 503, not a 504. More memory, more CPU:
    # a lower p99 on the hot path.
    ingress = { memory_size = 512, timeout = 10, reserved_concurrency = -1 }
    # Reads and receipt writes only.
    webhooks = { memory_size = 256, timeout = 10, reserved_concurrency = -1 }
    # Provider calls of a batch get 20 s (SEND_BUDGET_SECONDS in the app); the rest
    # records outcomes and parks retries.
    dispatch = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
    # One HTTP POST per callback, each bounded by CALLBACK_TIMEOUT_SECONDS.
    callbacks = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
    # One sweep of the outbox a minute; well under the relay lease (60 s).
    relay = { memory_size = 256, timeout = 30, reserved_concurrency = -1 }
    # Every 5 minutes: bounded batches within a 40 s budget, then their callbacks.
    housekeeping = { memory_size = 256, timeout = 60, reserved_concurrency = -1 }
  }

  validation {
    condition     = toset(keys(var.functions)) == toset(["ingress", "webhooks", "dispatch", "callbacks", "relay", "housekeeping"])
    error_message = "functions has exactly the keys ingress, webhooks, dispatch, callbacks, relay and housekeeping."
  }

  validation {
    # The job stops starting batches after 40 s (TIME_BUDGET_SECONDS in smsgw.housekeeping).
    condition     = var.functions["housekeeping"].timeout >= 50
    error_message = "housekeeping needs a timeout of at least 50 s (a 40 s budget of batches, then the callbacks)."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : f.memory_size >= 128 && f.memory_size <= 10240 && f.timeout >= 1 && f.timeout <= 900])
    error_message = "memory_size is 128-10240 MB and timeout 1-900 s."
  }

  validation {
    # API Gateway gives up after 29 s: an HTTP function must time out before that.
    condition     = var.functions["ingress"].timeout <= 28 && var.functions["webhooks"].timeout <= 28
    error_message = "ingress and webhooks serve API Gateway: their timeout must stay under its 29 s limit."
  }

  validation {
    # Dispatch spends up to 20 s on provider calls (SEND_BUDGET_SECONDS in functions/dispatch).
    condition     = var.functions["dispatch"].timeout >= 25
    error_message = "dispatch needs a timeout of at least 25 s (20 s of provider calls plus bookkeeping)."
  }
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
  description = "The outbound queue (ingress -> dispatch): redrive, visibility, retention, and dispatch's event source mapping (batch size, batching window, maximum concurrent dispatch environments)."
  nullable    = false
  default = {
    # Also dispatch's MAX_RECEIVE_COUNT: it marks a message failed on this receive,
    # knowing SQS moves it to the DLQ next.
    max_receive_count = 8
    # 6 x dispatch's 30 s timeout.
    visibility_timeout_seconds = 180
    message_retention_seconds  = 345600
    batch_size                 = 10
    # 0: a batch goes to dispatch as soon as the poll returns (lowest accept-to-sent).
    batching_window_seconds = 0
    # Caps dispatch environments, so a backlog cannot open more PostgreSQL
    # connections than the database allows, nor exceed the providers' rates.
    maximum_concurrency = 5
  }

  validation {
    condition     = var.outbound_queue.max_receive_count >= 2 && var.outbound_queue.max_receive_count <= 1000
    error_message = "max_receive_count must be 2 to 1000."
  }

  validation {
    condition     = var.outbound_queue.batch_size >= 1 && var.outbound_queue.batch_size <= 10
    error_message = "batch_size must be 1 to 10 (dispatch sends a batch's messages concurrently within its time budget)."
  }

  validation {
    condition     = var.outbound_queue.batching_window_seconds >= 0 && var.outbound_queue.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be 0 to 300."
  }

  validation {
    condition     = var.outbound_queue.maximum_concurrency >= 2 && var.outbound_queue.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be 2 (AWS's minimum) to 1000."
  }
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
  description = "The callbacks queue (status changes -> signed client callbacks): redrive, visibility, retention, and the callbacks consumer's event source mapping."
  nullable    = false
  default = {
    max_receive_count          = 8
    visibility_timeout_seconds = 180
    message_retention_seconds  = 345600
    batch_size                 = 10
    batching_window_seconds    = 0
    maximum_concurrency        = 5
  }

  validation {
    condition     = var.callbacks_queue.max_receive_count >= 2 && var.callbacks_queue.max_receive_count <= 1000
    error_message = "max_receive_count must be 2 to 1000."
  }

  validation {
    condition     = var.callbacks_queue.batch_size >= 1 && var.callbacks_queue.batch_size <= 10
    error_message = "batch_size must be 1 to 10."
  }

  validation {
    condition     = var.callbacks_queue.batching_window_seconds >= 0 && var.callbacks_queue.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be 0 to 300."
  }

  validation {
    condition     = var.callbacks_queue.maximum_concurrency >= 2 && var.callbacks_queue.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be 2 (AWS's minimum) to 1000."
  }
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
  description = "Dispatch behaviour: retry backoff (base * 2^(receive-1), capped), claim lease, provider call timeout, circuit breaker."
  nullable    = false
  default = {
    retry_base_seconds        = 30
    retry_max_seconds         = 900
    lease_seconds             = 120
    provider_timeout_seconds  = 5
    circuit_failure_threshold = 5
    circuit_open_seconds      = 30
  }

  validation {
    # The backoff is a ChangeMessageVisibility, which SQS caps at 12 hours.
    condition     = var.dispatch.retry_base_seconds >= 0 && var.dispatch.retry_max_seconds >= var.dispatch.retry_base_seconds && var.dispatch.retry_max_seconds <= 43200
    error_message = "retry_base_seconds >= 0 and retry_base_seconds <= retry_max_seconds <= 43200 (SQS's visibility limit)."
  }

  validation {
    condition     = var.dispatch.lease_seconds >= 5 && var.dispatch.provider_timeout_seconds > 0 && var.dispatch.circuit_failure_threshold >= 1 && var.dispatch.circuit_open_seconds >= 1
    error_message = "lease_seconds >= 5, provider_timeout_seconds > 0, circuit_failure_threshold >= 1, circuit_open_seconds >= 1."
  }
}

variable "callbacks" {
  type = object({
    retry_base_seconds  = number
    retry_max_seconds   = number
    timeout_seconds     = number
    relay_lease_seconds = number
  })
  description = "Client callbacks: retry backoff (base * 2^(receive-1), capped), timeout of one callback POST, how long the relay owns outbox rows it is sending."
  default = {
    retry_base_seconds  = 30
    retry_max_seconds   = 3600
    timeout_seconds     = 5
    relay_lease_seconds = 60
  }
  nullable = false

  validation {
    condition     = var.callbacks.retry_base_seconds >= 0 && var.callbacks.retry_max_seconds >= var.callbacks.retry_base_seconds && var.callbacks.retry_max_seconds <= 43200
    error_message = "retry_base_seconds >= 0 and retry_base_seconds <= retry_max_seconds <= 43200 (SQS's visibility limit)."
  }

  validation {
    condition     = var.callbacks.timeout_seconds > 0 && var.callbacks.timeout_seconds <= 30 && var.callbacks.relay_lease_seconds >= 5
    error_message = "timeout_seconds is in (0, 30] and relay_lease_seconds at least 5."
  }
}

variable "housekeeping" {
  type = object({
    receipt_window_seconds         = number
    callback_retention_days        = number
    receipt_retention_days         = number
    pending_receipt_retention_days = number
    message_text_retention_days    = number
  })
  description = "The housekeeping job: how long a sent message waits for its delivery receipt (a provider's registry config may override it) and how many days callbacks delivered or failed, the receipt log, unmatched receipts and message text are kept."
  nullable    = false
  default = {
    receipt_window_seconds         = 259200
    callback_retention_days        = 7
    receipt_retention_days         = 30
    pending_receipt_retention_days = 3
    message_text_retention_days    = 30
  }

  validation {
    condition     = var.housekeeping.receipt_window_seconds >= 60 && alltrue([for days in [var.housekeeping.callback_retention_days, var.housekeeping.receipt_retention_days, var.housekeeping.pending_receipt_retention_days, var.housekeeping.message_text_retention_days] : days >= 1])
    error_message = "receipt_window_seconds is at least 60 and every retention at least 1 day."
  }
}

variable "allow_loopback_callback_targets" {
  type        = bool
  description = "Local stacks only: let client callbacks go to loopback addresses, over plain http too (CALLBACK_ALLOW_LOOPBACK, CALLBACK_ALLOW_HTTP). Private networks stay refused. Never on AWS: it opens the callbacks' SSRF guard to the host itself."
  default     = false
}

variable "redis_prefix" {
  type        = string
  description = "Prefix of every Redis key, so several gateways can share one Redis."
  default     = "smsgw"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,32}$", var.redis_prefix))
    error_message = "redis_prefix must be 1-32 characters of [A-Za-z0-9_-]."
  }
}

variable "log_level" {
  type        = string
  description = "Log level of the functions (LOG_LEVEL and POWERTOOLS_LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level is DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group (functions, API access logs, database and cache logs)."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for queues, logs, secrets, the alarm topic, function environments, RDS and ElastiCache; null creates one for this deployment."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "tracing" {
  type        = bool
  description = "Active X-Ray tracing on the functions and the API stage (Powertools Tracer)."
  default     = true
}

variable "enable_sns_provider" {
  type        = bool
  description = "Let dispatch publish SMS through Amazon SNS (the \"sns\" provider kind)."
  default     = true
}

variable "stage_name" {
  type        = string
  description = "API stage: the last part of the base URL."
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.stage_name))
    error_message = "stage_name must be 1-64 characters of [A-Za-z0-9_-]."
  }
}

variable "api_throttling" {
  type = object({
    rate_limit  = number
    burst_limit = number
  })
  description = "Stage throttling over all clients: steady requests per second and burst (per-client limits are the gateway's daily quotas)."
  default = {
    rate_limit  = 200
    burst_limit = 400
  }
  nullable = false

  validation {
    condition     = var.api_throttling.rate_limit > 0 && var.api_throttling.burst_limit > 0
    error_message = "Throttling limits must be positive."
  }
}

variable "api_execution_logging_level" {
  type        = string
  description = "API Gateway execution logs: OFF, ERROR or INFO (request bodies are never logged)."
  default     = "ERROR"
  nullable    = false

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api_execution_logging_level)
    error_message = "api_execution_logging_level is OFF, ERROR or INFO."
  }
}

variable "waf_web_acl_arn" {
  type        = string
  description = "Regional WAFv2 web ACL to associate with the API stage; null for none."
  default     = null
}

variable "api_tags" {
  type        = map(string)
  description = "Extra tags on the REST API only (LocalStack takes a fixed API id from _custom_id_)."
  default     = {}
  nullable    = false
}

variable "manage_api_gateway_account" {
  type        = bool
  description = "Set the account's API Gateway CloudWatch Logs role (needed once per account and region for access logs; leave false where another stack owns it)."
  default     = false
}

variable "database" {
  type = object({
    create     = bool
    url        = optional(string)
    secret_arn = optional(string)
  })
  description = <<-EOT
    PostgreSQL. create = true: an RDS instance in var.network (sized by var.rds; credentials
    managed by RDS in Secrets Manager). create = false: an existing server, url =
    postgresql://host:port/db WITHOUT a password, and secret_arn = a Secrets Manager
    secret, JSON with username and password (host, port, dbname optional, overriding the
    url's); secret_arn may be null only where the server needs no password (the local stack).
  EOT

  validation {
    condition     = var.database.create || var.database.url != null
    error_message = "An existing database (create = false) needs its url."
  }

  validation {
    # user:password@ in a URL would put the password in the function configuration.
    condition     = var.database.url == null || !can(regex("^[a-z0-9+]+://[^/@]*:[^/@]*@", coalesce(var.database.url, "-")))
    error_message = "database.url must not hold a password: put the credentials in the secret (secret_arn)."
  }

  validation {
    condition     = var.database.url == null || can(regex("^postgres(ql)?://", coalesce(var.database.url, "-")))
    error_message = "database.url is a postgresql:// URL."
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
  description = "The RDS instance, when database.create: version, class, storage (GiB, autoscaling ceiling), Multi-AZ, backup days, deletion protection."
  default = {
    engine_version        = "16"
    instance_class        = "db.t4g.small"
    allocated_storage     = 20
    max_allocated_storage = 200
    multi_az              = true
    backup_retention_days = 7
    deletion_protection   = true
  }
  nullable = false
}

variable "redis" {
  type = object({
    create     = bool
    url        = optional(string)
    secret_arn = optional(string)
  })
  description = <<-EOT
    Redis, cluster mode disabled (the Lua scripts need one keyspace). create = true: an
    ElastiCache replication group in var.network (sized by var.elasticache) with TLS and an
    AUTH token in Secrets Manager. create = false: an existing server, url =
    redis[s]://host:port/db WITHOUT a password, and secret_arn = a secret JSON
    {"password": ...} (optionally "username"), or null where no AUTH is needed (the local stack).
  EOT

  validation {
    condition     = var.redis.create || var.redis.url != null
    error_message = "An existing Redis (create = false) needs its url."
  }

  validation {
    condition     = var.redis.url == null || can(regex("^rediss?://[^@]*$", coalesce(var.redis.url, "-")))
    error_message = "redis.url is a redis:// or rediss:// URL without credentials (put them in the secret)."
  }
}

variable "elasticache" {
  type = object({
    engine_version          = optional(string, "7.1")
    node_type               = optional(string, "cache.t4g.small")
    replicas                = optional(number, 1)
    multi_az                = optional(bool, true)
    snapshot_retention_days = optional(number, 1)
  })
  description = "The ElastiCache replication group, when redis.create: version, node type, replicas, Multi-AZ automatic failover, snapshot days."
  default = {
    engine_version          = "7.1"
    node_type               = "cache.t4g.small"
    replicas                = 1
    multi_az                = true
    snapshot_retention_days = 1
  }
  nullable = false
}

variable "network" {
  type = object({
    vpc_id             = string
    subnet_ids         = list(string)
    security_group_ids = optional(list(string), [])
    egress_cidr_blocks = optional(list(string), ["0.0.0.0/0"])
  })
  description = "Private subnets (with a NAT gateway or VPC endpoints for SQS, Secrets Manager, SNS and the SMS providers' HTTPS APIs) for the functions, RDS and ElastiCache; required when either is created. security_group_ids: extra groups for the functions (e.g. to reach an existing database). egress_cidr_blocks: where the functions may open HTTPS."
  default     = null
}

variable "alarms" {
  type = object({
    email                                = optional(string)
    outbound_oldest_message_age_seconds  = optional(number, 300)
    callbacks_oldest_message_age_seconds = optional(number, 900)
    api_5xx_threshold                    = optional(number, 5)
    function_error_threshold             = optional(number, 1)
    function_throttle_threshold          = optional(number, 1)
    redis_memory_percent                 = optional(number, 80)
    stuck_sending_threshold              = optional(number, 1)
    no_receipt_threshold                 = optional(number, 100)
  })
  description = "CloudWatch alarms to the SNS topic: optional email subscription, and thresholds (oldest message age in seconds, 5xx and error/throttle counts per 5 minutes, Redis memory %, messages housekeeping resolved per hour: stuck in sending, sent without a receipt)."
  default     = {}
  nullable    = false

  validation {
    condition     = var.alarms.email == null || can(regex("^[^@\\s]+@[^@\\s]+$", coalesce(var.alarms.email, "-")))
    error_message = "alarms.email must be an email address."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource (in addition to the provider's default_tags)."
  default     = {}
}
