"""PostgreSQL: connections (``connection``) and the schema's migrations (``migrate``)."""
