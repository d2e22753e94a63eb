"""Run the schema migrations (Alembic) programmatically.

Operator tooling: ``make up``, the CLI and the tests call this; Lambda functions never
do (Alembic and SQLAlchemy are not in the layer).
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(database_url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # psycopg2 is the driver everywhere in the project.
    url = database_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(database_url), revision)


def current(database_url: str) -> str | None:
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(_config(database_url).get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
