"""Initial schema: clients, API keys, providers, messages, events, attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "('queued','sending','sent','delivered','undelivered','failed')"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE clients (
            id                   uuid PRIMARY KEY,
            name                 text NOT NULL UNIQUE,
            active               boolean NOT NULL DEFAULT true,
            daily_quota          integer NOT NULL CHECK (daily_quota >= 0),
            default_callback_url text,
            -- HMAC key for outbound callbacks; shown to the client once at creation.
            signing_secret       text NOT NULL,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE api_keys (
            id          uuid PRIMARY KEY,
            client_id   uuid NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
            -- SHA-256 of the key: keys are random 122-bit values, so a fast hash is
            -- enough; the plain key is never stored.
            key_hash    text NOT NULL UNIQUE,
            key_prefix  text NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            revoked_at  timestamptz
        );
        CREATE INDEX api_keys_client_idx ON api_keys (client_id);

        CREATE TABLE providers (
            name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
            kind        text NOT NULL,
            enabled     boolean NOT NULL DEFAULT true,
            priority    integer NOT NULL DEFAULT 100,
            weight      integer NOT NULL DEFAULT 100 CHECK (weight >= 0),
            config      jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        """
    )
    op.execute(
        f"""
        CREATE TABLE messages (
            tracking_id          uuid PRIMARY KEY,
            client_id            uuid NOT NULL REFERENCES clients(id),
            to_number            text NOT NULL,
            sender               text,
            body                 text NOT NULL,
            requested_providers  text[] NOT NULL DEFAULT '{{}}',
            callback_url         text,
            reference            text,
            segments             integer NOT NULL,
            encoding             text NOT NULL,
            status               text NOT NULL CHECK (status IN {STATUSES}),
            provider             text,
            provider_message_id  text,
            error_code           text,
            error_message        text,
            attempts             integer NOT NULL DEFAULT 0,
            receive_count        integer NOT NULL DEFAULT 0,
            -- While set and in the future, another receive of the same SQS message
            -- must not send it: a send may be in progress.
            lease_until          timestamptz,
            accepted_at          timestamptz NOT NULL,
            created_at           timestamptz NOT NULL DEFAULT now(),
            updated_at           timestamptz NOT NULL DEFAULT now(),
            sent_at              timestamptz,
            final_at             timestamptz
        );
        -- History: a client's messages newest first, keyset-paginated on
        -- (accepted_at, tracking_id).
        CREATE INDEX messages_client_history_idx
            ON messages (client_id, accepted_at DESC, tracking_id DESC);
        CREATE INDEX messages_client_status_idx
            ON messages (client_id, status, accepted_at DESC);
        CREATE INDEX messages_client_to_idx
            ON messages (client_id, to_number, accepted_at DESC);
        CREATE INDEX messages_client_reference_idx
            ON messages (client_id, reference) WHERE reference IS NOT NULL;
        -- Delivery receipts find the message by the provider's id.
        CREATE UNIQUE INDEX messages_provider_message_idx
            ON messages (provider, provider_message_id) WHERE provider_message_id IS NOT NULL;

        CREATE TABLE message_events (
            id           bigserial PRIMARY KEY,
            tracking_id  uuid NOT NULL REFERENCES messages(tracking_id) ON DELETE CASCADE,
            status       text NOT NULL CHECK (status IN {STATUSES}),
            provider     text,
            raw_code     text,
            error_code   text,
            detail       text,
            is_final     boolean NOT NULL,
            occurred_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX message_events_tracking_idx ON message_events (tracking_id, id);

        CREATE TABLE message_attempts (
            id           bigserial PRIMARY KEY,
            tracking_id  uuid NOT NULL REFERENCES messages(tracking_id) ON DELETE CASCADE,
            receive_count integer NOT NULL,
            provider     text NOT NULL,
            outcome      text NOT NULL
                         CHECK (outcome IN ('sent', 'transient_error', 'permanent_error')),
            error_code   text,
            raw_code     text,
            latency_ms   integer NOT NULL,
            attempted_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX message_attempts_tracking_idx ON message_attempts (tracking_id, id);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE message_attempts; DROP TABLE message_events; DROP TABLE messages;"
        " DROP TABLE providers; DROP TABLE api_keys; DROP TABLE clients;"
    )
