"""HTTP edge helpers shared by the API functions (ingress, webhooks)."""
