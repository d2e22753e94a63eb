# The SMS gateway on AWS: API Gateway, Lambda, SQS, RDS PostgreSQL, ElastiCache Redis,
# Secrets Manager, CloudWatch alarms. Artifacts come from `make build` (the same zips
# the local stack deploys); build/manifest.json names them.

locals {
  # Relative to this directory, so the plan does not depend on where the repo lives.
  repo_root     = "${path.root}/../../../.."
  manifest_path = coalesce(var.build_manifest, "${local.repo_root}/build/manifest.json")
  manifest      = var.artifacts == null ? jsondecode(file(local.manifest_path)) : null
  artifacts = var.artifacts != null ? var.artifacts : {
    layer    = "${local.repo_root}/${local.manifest.layer.file}"
    ingress  = "${local.repo_root}/${local.manifest.ingress.file}"
    webhooks = "${local.repo_root}/${local.manifest.webhooks.file}"
    dispatch = "${local.repo_root}/${local.manifest.dispatch.file}"
  }
}

module "smsgw" {
  source = "../../modules/smsgw"

  name      = var.name
  artifacts = local.artifacts

  functions       = var.functions
  outbound_queue  = var.outbound_queue
  callbacks_queue = var.callbacks_queue
  dispatch        = var.dispatch
  callbacks       = var.callbacks
  housekeeping    = var.housekeeping

  database    = var.database
  rds         = var.rds
  redis       = var.redis
  elasticache = var.elasticache
  network = {
    vpc_id             = var.vpc_id
    subnet_ids         = var.private_subnet_ids
    security_group_ids = var.extra_function_security_group_ids
    egress_cidr_blocks = var.function_egress_cidr_blocks
  }

  stage_name = var.stage_name
  api_throttling = {
    rate_limit  = var.api_throttling_rate_limit
    burst_limit = var.api_throttling_burst_limit
  }
  waf_web_acl_arn            = var.waf_web_acl_arn
  manage_api_gateway_account = var.manage_api_gateway_account

  alarms = {
    email = var.alarm_email
  }

  kms_key_arn         = var.kms_key_arn
  log_level           = var.log_level
  log_retention_days  = var.log_retention_days
  enable_sns_provider = var.enable_sns_provider
}
