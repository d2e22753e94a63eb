"""`make up` / `make down` / `make logs`: the whole gateway on one machine (LocalStack)."""
