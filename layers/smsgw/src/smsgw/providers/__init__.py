"""SMS providers: the port (``base``), one adapter per provider, and the registry."""
