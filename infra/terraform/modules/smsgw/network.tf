# The functions' security group, when they run in the VPC (needed to reach RDS and
# ElastiCache). Egress only: HTTPS (AWS APIs through NAT or endpoints, SMS providers)
# and the two data stores.

locals {
  in_vpc = var.network != null
}

resource "terraform_data" "network_required" {
  input = local.in_vpc

  lifecycle {
    precondition {
      condition     = local.in_vpc || !(var.database.create || var.redis.create)
      error_message = "Creating RDS or ElastiCache (database.create / redis.create) needs var.network: private subnets for them and the functions."
    }
  }
}

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:Attached to the Lambda functions through modules/function (vpc.security_group_ids), which the graph check does not follow.
  count = local.in_vpc ? 1 : 0

  name        = "${var.name}-functions"
  description = "Lambda functions of ${var.name}: egress to HTTPS, PostgreSQL and Redis"
  vpc_id      = var.network.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each = local.in_vpc ? toset(var.network.egress_cidr_blocks) : toset([])

  security_group_id = aws_security_group.functions[0].id
  description       = "HTTPS: AWS APIs and SMS providers"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  count = local.in_vpc && var.database.create ? 1 : 0

  security_group_id            = aws_security_group.functions[0].id
  description                  = "PostgreSQL (RDS)"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = module.postgres[0].security_group_id
}

resource "aws_vpc_security_group_egress_rule" "redis" {
  count = local.in_vpc && var.redis.create ? 1 : 0

  security_group_id            = aws_security_group.functions[0].id
  description                  = "Redis (ElastiCache)"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = module.redis[0].security_group_id
}
