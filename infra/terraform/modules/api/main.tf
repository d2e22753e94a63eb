# A REST API defined by an OpenAPI document (Lambda proxy integrations), one stage with
# throttling, JSON access logs and metrics, and one invoke permission per route.

locals {
  route_parts = {
    for route, function in var.routes : route => {
      method   = split(" ", route)[0]
      path     = split(" ", route)[1]
      function = function
    }
  }

  openapi = {
    openapi = "3.0.1"
    info    = { title = var.name, version = "1.0" }
    paths = {
      for path in distinct([for r in local.route_parts : r.path]) : path => {
        for r in local.route_parts : (r.method == "ANY" ? "x-amazon-apigateway-any-method" : lower(r.method)) => {
          "x-amazon-apigateway-integration" = {
            type                = "aws_proxy"
            httpMethod          = "POST"
            uri                 = var.functions[r.function].invoke_arn
            timeoutInMillis     = var.integration_timeout_ms
            passthroughBehavior = "when_no_match"
          }
        } if r.path == path
      }
    }
    # Errors API Gateway answers itself get the gateway's error body, not its own
    # {"message": ...}, so clients parse one format.
    "x-amazon-apigateway-gateway-responses" = {
      for type, answer in local.gateway_responses : type => {
        statusCode         = answer.status
        responseParameters = { for name, value in answer.headers : "gatewayresponse.header.${name}" => "'${value}'" }
        responseTemplates = {
          "application/json" = jsonencode(merge(
            { error_code = answer.code, message = answer.message },
            local.gateway_response_body,
          ))
        }
      }
    }
  }

  # Held equal to infra/sam/template.yaml's GatewayResponses by tests/infrastructure.
  # DEFAULT_4XX and DEFAULT_5XX cover every type not named here.
  gateway_responses = {
    DEFAULT_4XX                  = { status = "422", code = "INVALID_PAYLOAD", message = "request refused by the API gateway", headers = {} }
    DEFAULT_5XX                  = { status = "500", code = "INTERNAL_ERROR", message = "internal error", headers = {} }
    MISSING_AUTHENTICATION_TOKEN = { status = "404", code = "NOT_FOUND", message = "no such route", headers = {} }
    RESOURCE_NOT_FOUND           = { status = "404", code = "NOT_FOUND", message = "no such route", headers = {} }
    ACCESS_DENIED                = { status = "401", code = "UNAUTHORIZED", message = "access denied", headers = {} }
    THROTTLED                    = { status = "429", code = "RATE_LIMITED", message = "request rate above the API's limit", headers = { "Retry-After" = "1" } }
    REQUEST_TOO_LARGE            = { status = "413", code = "PAYLOAD_TOO_LARGE", message = "request body too large", headers = {} }
    INTEGRATION_FAILURE          = { status = "503", code = "SERVICE_UNAVAILABLE", message = "the service could not be reached", headers = { "Retry-After" = "1" } }
    INTEGRATION_TIMEOUT          = { status = "503", code = "SERVICE_UNAVAILABLE", message = "the service did not answer in time", headers = { "Retry-After" = "1" } }
  }

  # The rest of the contract's error body. Gateway response templates only substitute
  # variables, and no $context variable is RFC 3339: timestamp is the request time in
  # milliseconds since the Unix epoch, as a string ($context.requestTime is
  # "29/Nov/2026:18:20:24 +0000").
  gateway_response_body = {
    details     = {}
    tracking_id = null
    timestamp   = "$context.requestTimeEpoch"
  }

  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    sourceIp           = "$context.identity.sourceIp"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    status             = "$context.status"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    integrationError   = "$context.integration.error"
    errorType          = "$context.error.responseType"
    xrayTraceId        = "$context.xrayTraceId"
  })
}

resource "aws_api_gateway_rest_api" "this" {
  name              = var.name
  body              = jsonencode(local.openapi)
  put_rest_api_mode = "overwrite"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = merge(var.tags, var.api_tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  # A new deployment whenever the API definition changes.
  triggers = {
    redeployment = sha1(aws_api_gateway_rest_api.this.body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per client and mostly to POSTs; a cache would serve one client's answer to another.
  #checkov:skip=CKV2_AWS_51:A public API for many clients, who authenticate with API keys; mutual TLS to the backend does not apply to Lambda proxy integrations.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is associated when var.waf_web_acl_arn is set (aws_wafv2_web_acl_association.this).
  #checkov:skip=CKV2_AWS_77:The web ACL, when given, is the operator's (var.waf_web_acl_arn); its rule sets (Log4j AMR included) are managed with it, not here.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.tracing

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = local.access_log_format
  }

  tags = var.tags
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching is off on purpose: responses are per client (API-Key) and mostly to POSTs.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
    caching_enabled        = false
  }
}

# One permission per route: API Gateway may invoke a function only for its own routes.
resource "aws_lambda_permission" "route" {
  for_each = local.route_parts

  statement_id  = "apigw-${substr(sha1(each.key), 0, 16)}"
  action        = "lambda:InvokeFunction"
  function_name = var.functions[each.value.function].name
  principal     = "apigateway.amazonaws.com"
  # execute-api ARN: <api>/<stage>/<method>/<path>; {param} and {proxy+} match any segment(s).
  source_arn = "${aws_api_gateway_rest_api.this.execution_arn}/*/${each.value.method == "ANY" ? "*" : each.value.method}${replace(each.value.path, "/\\{[^}]+\\}/", "*")}"
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}
