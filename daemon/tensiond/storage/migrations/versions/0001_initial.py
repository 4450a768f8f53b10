"""Initial schema: feeds with polling state and leases, items, classifications, alert outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from tensiond.storage.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("url", sa.String(2048), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.String(512)),
        sa.Column("last_modified", sa.String(200)),
        sa.Column("next_poll_at", UTCDateTime()),
        sa.Column("last_polled_at", UTCDateTime()),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", UTCDateTime()),
    )
    op.create_index("ix_feeds_due", "feeds", ["active", "next_poll_at"])
    op.create_table(
        "items",
        sa.Column("id", sa.String(512), primary_key=True),
        sa.Column("feed_url", sa.String(2048), nullable=False),
        sa.Column("feed_name", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.String(2048)),
        sa.Column("url_key", sa.String(2048)),
        sa.Column("published", UTCDateTime()),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("classified", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_items_unclassified", "items", ["classified", "seen_at"])
    op.create_index("ix_items_seen_at", "items", ["seen_at"])
    op.create_index("ix_items_url_key", "items", ["url_key"])
    op.create_table(
        "classifications",
        sa.Column(
            "item_id",
            sa.String(512),
            sa.ForeignKey("items.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("tension", sa.Integer(), nullable=False),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("actors", sa.JSON(), nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("classified_at", UTCDateTime(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
    )
    op.create_index("ix_classifications_label_tension", "classifications", ["label", "tension"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(700), nullable=False, unique=True),
        sa.Column("item_id", sa.String(512), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("slack_ts", sa.String(64)),
        sa.Column("error", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
    )
    op.create_index("ix_alerts_pending", "alerts", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("classifications")
    op.drop_table("items")
    op.drop_table("feeds")
