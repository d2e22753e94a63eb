output "primary_address" {
  description = "Primary endpoint (follows failover)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Port of the replication group."
  value       = aws_elasticache_replication_group.this.port
}

output "replication_group_id" {
  description = "Replication group id (its metrics are per member cluster, <id>-00N)."
  value       = aws_elasticache_replication_group.this.id
}

output "member_clusters" {
  description = "Cache cluster ids of the primary and replicas (the CacheClusterId dimension of metrics)."
  value       = aws_elasticache_replication_group.this.member_clusters
}

output "auth_secret_arn" {
  description = "Secrets Manager secret holding the AUTH token as JSON {\"password\": ...}."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.this.id
}
