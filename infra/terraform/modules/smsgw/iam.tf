# What each function may do beyond its logs, traces and network interfaces (added by
# modules/function). Every resource is named; the one "*" is commented.

locals {
  queue_consumer_actions = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
  ]

  publish_sms_statement = {
    # IAM allow-list: SNS Publish to a phone number has no ARN to name; AWS requires
    # "*" for SMS (the gateway publishes to no topic).
    sid       = "PublishSms"
    actions   = ["sns:Publish"]
    resources = ["*"]
  }

  function_policies = {
    ingress = [
      { sid = "SendOutbound", actions = ["sqs:SendMessage"], resources = [module.outbound.arn] },
    ]
    webhooks = [
      # Receipts change statuses; the change is relayed to the callbacks queue.
      { sid = "SendCallbacks", actions = ["sqs:SendMessage"], resources = [module.callbacks.arn] },
    ]
    dispatch = concat(
      [
        # Receive and delete, and ChangeMessageVisibility for the retry backoff.
        { sid = "ConsumeOutbound", actions = local.queue_consumer_actions, resources = [module.outbound.arn] },
        { sid = "SendCallbacks", actions = ["sqs:SendMessage"], resources = [module.callbacks.arn] },
      ],
      var.enable_sns_provider ? [local.publish_sms_statement] : [],
    )
    callbacks = [
      # Receive and delete, and ChangeMessageVisibility for the retry backoff.
      { sid = "ConsumeCallbacks", actions = local.queue_consumer_actions, resources = [module.callbacks.arn] },
    ]
    relay = [
      { sid = "SendCallbacks", actions = ["sqs:SendMessage"], resources = [module.callbacks.arn] },
    ]
    housekeeping = [
      # What it resolves is called back: it relays the outbox rows it writes.
      { sid = "SendCallbacks", actions = ["sqs:SendMessage"], resources = [module.callbacks.arn] },
    ]
  }

  common_policies = {
    for name, spec in local.function_specs : name => concat(
      length(local.function_secrets[name]) == 0 ? [] : [
        { sid = "ReadSecrets", actions = ["secretsmanager:GetSecretValue"], resources = local.function_secrets[name] },
      ],
      [
        # The deployment's key: queue messages, secrets and the environment are
        # encrypted with it. Producers also make data keys for SendMessage.
        {
          sid       = "UseKey"
          actions   = spec.producer ? ["kms:Decrypt", "kms:GenerateDataKey"] : ["kms:Decrypt"]
          resources = [local.kms_key_arn]
        },
      ],
    )
  }
}
