provider "aws" {
  region = var.region

  # Refuse to run against any other account (a wrong profile is a classic accident).
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = merge(var.tags, {
      Application = "sms-gateway"
      Deployment  = var.name
      ManagedBy   = "terraform"
    })
  }
}
