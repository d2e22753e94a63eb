# Secrets the functions read at cold start. Terraform creates each with an empty JSON
# object and never looks at the value again: operators put the real values with
# `aws secretsmanager put-secret-value` (docs/deploy-aws.md), so they never reach the
# Terraform state. Each is a JSON object of NAME -> value; the functions export the
# names into their environment, where provider configs refer to them (`api_token_env`).

resource "aws_secretsmanager_secret" "providers" {
  #checkov:skip=CKV2_AWS_57:Third-party credentials are rotated at the provider, then stored here by the operator; there is no rotation Lambda to run.
  name_prefix             = "${var.name}-provider-credentials-"
  description             = "SMS provider credentials of ${var.name} (JSON NAME -> value), read by dispatch (PROVIDER_SECRETS_ARN)"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "providers" {
  secret_id     = aws_secretsmanager_secret.providers.id
  secret_string = jsonencode({})

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "webhook_signing" {
  #checkov:skip=CKV2_AWS_57:Signing secrets are issued by each provider for its delivery receipts and rotated there; the operator stores the new one here.
  name_prefix             = "${var.name}-webhook-signing-"
  description             = "Providers' delivery-receipt signing secrets of ${var.name} (JSON NAME -> value), read by webhooks (WEBHOOK_SECRETS_ARN)"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "webhook_signing" {
  secret_id     = aws_secretsmanager_secret.webhook_signing.id
  secret_string = jsonencode({})

  lifecycle {
    ignore_changes = [secret_string]
  }
}
