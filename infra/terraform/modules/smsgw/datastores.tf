# PostgreSQL and Redis: created here (RDS, ElastiCache) or existing ones passed in.
# Either way the functions get a URL without credentials and the ARN of the secret
# that holds them (resolved by smsgw.config at cold start).

module "postgres" {
  source = "../postgres"
  count  = var.database.create ? 1 : 0

  name                     = var.name
  vpc_id                   = try(var.network.vpc_id, null)
  subnet_ids               = try(var.network.subnet_ids, [])
  client_security_group_id = one(aws_security_group.functions[*].id)
  engine_version           = var.rds.engine_version
  instance_class           = var.rds.instance_class
  allocated_storage        = var.rds.allocated_storage
  max_allocated_storage    = var.rds.max_allocated_storage
  multi_az                 = var.rds.multi_az
  backup_retention_days    = var.rds.backup_retention_days
  deletion_protection      = var.rds.deletion_protection
  kms_key_arn              = local.kms_key_arn
  log_retention_days       = var.log_retention_days
  tags                     = var.tags

  depends_on = [terraform_data.network_required]
}

module "redis" {
  source = "../redis"
  count  = var.redis.create ? 1 : 0

  name                     = var.name
  vpc_id                   = try(var.network.vpc_id, null)
  subnet_ids               = try(var.network.subnet_ids, [])
  client_security_group_id = one(aws_security_group.functions[*].id)
  engine_version           = var.elasticache.engine_version
  node_type                = var.elasticache.node_type
  replicas                 = var.elasticache.replicas
  multi_az                 = var.elasticache.multi_az
  snapshot_retention_days  = var.elasticache.snapshot_retention_days
  kms_key_arn              = local.kms_key_arn
  log_retention_days       = var.log_retention_days
  tags                     = var.tags

  depends_on = [terraform_data.network_required]
}

locals {
  database_url = (
    var.database.create
    ? "postgresql://${module.postgres[0].address}:${module.postgres[0].port}/${module.postgres[0].database_name}?sslmode=require"
    : var.database.url
  )
  database_secret_arn = var.database.create ? module.postgres[0].master_user_secret_arn : var.database.secret_arn

  redis_url        = var.redis.create ? "rediss://${module.redis[0].primary_address}:${module.redis[0].port}/0" : var.redis.url
  redis_secret_arn = var.redis.create ? module.redis[0].auth_secret_arn : var.redis.secret_arn
}
