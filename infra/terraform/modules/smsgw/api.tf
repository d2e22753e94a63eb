# The public REST API. Routes are the local stack's (infra/sam/template.yaml), held
# together by tests/infrastructure.

locals {
  # Every route of the apps is declared, as Chalice does: a request whose path matches a
  # resource but none of its methods (GET /v1/sms beside POST /v1/sms) gets API
  # Gateway's MISSING_AUTHENTICATION_TOKEN (404 NOT_FOUND, by modules/api's gateway
  # responses), not the {proxy+} catch-all.
  routes = {
    "POST /v1/sms"                 = "ingress"
    "GET /v1/sms"                  = "webhooks"
    "GET /v1/sms/{tracking_id}"    = "webhooks"
    "GET /v1/providers"            = "webhooks"
    "POST /v1/webhooks/{provider}" = "webhooks"
    # Everything else gets the contract's NOT_FOUND body from our code rather than
    # API Gateway's own 403 "Missing Authentication Token".
    "ANY /{proxy+}" = "webhooks"
    # The API's root too: {proxy+} needs at least one segment.
    "ANY /" = "webhooks"
  }
}

data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

# Account-wide (one per account and region): the role API Gateway writes access and
# execution logs with. Only where this deployment owns that setting.
resource "aws_iam_role" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name}-apigateway-logs"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_logs" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_logs[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_logs[0].arn
  depends_on          = [aws_iam_role_policy_attachment.api_gateway_logs]
}

module "api" {
  source = "../api"

  name                    = var.name
  stage_name              = var.stage_name
  routes                  = local.routes
  functions               = { for name, fn in module.function : name => { name = fn.name, invoke_arn = fn.invoke_arn } }
  throttling_rate_limit   = var.api_throttling.rate_limit
  throttling_burst_limit  = var.api_throttling.burst_limit
  execution_logging_level = var.api_execution_logging_level
  log_retention_days      = var.log_retention_days
  kms_key_arn             = local.kms_key_arn
  tracing                 = var.tracing
  waf_web_acl_arn         = var.waf_web_acl_arn
  api_tags                = var.api_tags
  tags                    = var.tags

  # Access logging fails until the account has its CloudWatch role.
  depends_on = [aws_api_gateway_account.this]
}
