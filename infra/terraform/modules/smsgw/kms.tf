# One customer managed key for everything of this deployment that stores data, unless a
# key is passed in (var.kms_key_arn). Services that write with it on their own behalf
# (CloudWatch Logs, CloudWatch alarms publishing to the encrypted topic) are named in
# its policy; the functions get kms:Decrypt/GenerateDataKey through their roles.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account     = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  region      = data.aws_region.current.name
  kms_key_arn = var.kms_key_arn == null ? aws_kms_key.this[0].arn : var.kms_key_arn
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy: "*" as resource is the key itself, and the account root statement is what makes the key manageable by IAM.
  #checkov:skip=CKV_AWS_111:A key policy: "*" as resource is the key itself; service principals are bound by encryption context or source account.
  #checkov:skip=CKV_AWS_356:A key policy: "*" is the only resource a key policy can name (the key it is attached to).
  statement {
    # IAM allow-list: in a key policy "*" means this key. The account's IAM policies
    # decide who else may use it (without this statement the key is unmanageable).
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    # IAM allow-list: in a key policy "*" means this key; the condition narrows it to
    # this deployment's log groups.
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/lambda/${var.name}-*",
        "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/apigateway/${var.name}/*",
        "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/rds/instance/${var.name}/*",
        "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/elasticache/${var.name}/*",
      ]
    }
  }

  statement {
    # IAM allow-list: in a key policy "*" means this key. CloudWatch alarms publish to
    # the encrypted alarm topic with it, from this account only.
    sid       = "CloudWatchAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name} SMS gateway: queues, logs, secrets, alarms, database and cache"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
