# Redis on ElastiCache for the gateway. Cluster mode DISABLED: the gateway's Lua scripts
# touch several keys of one client at once, which a cluster would spread over slots.
# Private, encrypted at rest and in transit, with an AUTH token kept in Secrets Manager.

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis of ${var.name}: reachable from the gateway's functions only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  security_group_id            = aws_security_group.this.id
  description                  = "Redis from the gateway's functions"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = var.client_security_group_id
}

resource "aws_elasticache_parameter_group" "this" {
  name   = "${var.name}-redis7"
  family = "redis7"

  # Stated, not left to the default: the Lua scripts need one keyspace.
  parameter {
    name  = "cluster-enabled"
    value = "no"
  }

  # Idempotency keys and quota counters must not be evicted under memory pressure:
  # writes fail instead and ingress answers 503 (fail closed). An alarm watches memory.
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "random_password" "auth_token" {
  # ElastiCache AUTH: 16-128 printable characters without @, " or /.
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth" {
  #checkov:skip=CKV2_AWS_57:Rotating the AUTH token needs a coordinated ROTATE/SET on the replication group; rotate by tainting random_password.auth_token and applying.
  name_prefix             = "${var.name}-redis-auth-"
  description             = "AUTH token of ${var.name}'s Redis, JSON {\"password\": ...}; read by the functions at cold start (REDIS_SECRET_ARN)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  secret_id     = aws_secretsmanager_secret.auth.id
  secret_string = jsonencode({ password = random_password.auth_token.result })
}

resource "aws_cloudwatch_log_group" "slow_log" {
  name              = "/aws/elasticache/${var.name}/slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "Redis of the ${var.name} SMS gateway (cluster mode disabled)"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.this.name
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = [aws_security_group.this.id]

  # One shard: a primary and var.replicas replicas.
  num_cache_clusters         = 1 + var.replicas
  automatic_failover_enabled = var.multi_az
  multi_az_enabled           = var.multi_az

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = random_password.auth_token.result

  snapshot_retention_limit   = var.snapshot_retention_days
  auto_minor_version_upgrade = true
  apply_immediately          = false

  lifecycle {
    precondition {
      condition     = !var.multi_az || var.replicas >= 1
      error_message = "multi_az needs at least one replica to fail over to."
    }
  }

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }

  tags = var.tags
}
