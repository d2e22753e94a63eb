"""API keys: what a key is (hash, format), who it belongs to, and the Redis cache in
front of PostgreSQL that ingress and the status API authenticate through."""
