# The SMS gateway on LocalStack through Terraform (`tflocal apply`), an alternative to
# the SAM deployment `make up` does. Same module and artifacts as AWS; no RDS or
# ElastiCache: the functions use the PostgreSQL and Redis on this machine. Needs the
# LocalStack that `make up` starts (with the project's Lambda executor) and `make build`.

locals {
  repo_root     = "${path.root}/../../../.."
  manifest_path = coalesce(var.build_manifest, "${local.repo_root}/build/manifest.json")
  manifest      = jsondecode(file(local.manifest_path))
}

module "smsgw" {
  source = "../../modules/smsgw"

  name = var.name
  artifacts = {
    layer    = "${local.repo_root}/${local.manifest.layer.file}"
    ingress  = "${local.repo_root}/${local.manifest.ingress.file}"
    webhooks = "${local.repo_root}/${local.manifest.webhooks.file}"
    dispatch = "${local.repo_root}/${local.manifest.dispatch.file}"
  }

  database = { create = false, url = var.database_url }
  redis    = { create = false, url = var.redis_url }
  # No VPC: the functions run as host processes next to PostgreSQL and Redis.
  network = null

  redis_prefix = var.name
  dispatch     = var.dispatch

  # The provider simulator and test receivers listen on loopback over plain http.
  allow_loopback_callback_targets = true

  stage_name = "local"
  # LocalStack gives the REST API this id, so the URL is stable:
  # http://127.0.0.1:4566/_aws/execute-api/<name>/local
  api_tags = { _custom_id_ = var.name }
}
