"""Events (one happening across outlets), their items, the notices routes keep about them, and
what each outbox row asks of Slack (post, update, reply, digest, group).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from tensiond.storage.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="post"))
        batch.add_column(sa.Column("parent_key", sa.String(700)))
        batch.add_column(sa.Column("event_id", sa.Integer()))
        batch.add_column(sa.Column("slack_channel", sa.String(64)))
        batch.create_index("ix_alerts_parent", ["parent_key"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("tension", sa.Integer(), nullable=False),
        sa.Column("modality", sa.String(20), nullable=False),
        sa.Column("actors", sa.JSON(), nullable=False),
        sa.Column("dyads", sa.JSON(), nullable=False),
        sa.Column("feed_tags", sa.JSON(), nullable=False),
        sa.Column("item_id", sa.String(512), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("link", sa.String(2048)),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_events_last_seen", "events", ["last_seen"])
    op.create_table(
        "event_items",
        sa.Column("item_id", sa.String(512), primary_key=True),
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_event_items_event", "event_items", ["event_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column(
            "event_id",
            sa.Integer(),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("post_key", sa.String(700)),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("tension", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("dyads", sa.JSON(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("eased", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("notified_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime()),
        sa.Column("digested_at", UTCDateTime()),
        sa.UniqueConstraint("route", "event_id", name="uq_notices_route_event"),
    )
    op.create_index("ix_notices_state", "notices", ["state", "notified_at"])


def downgrade() -> None:
    op.drop_table("notices")
    op.drop_table("event_items")
    op.drop_table("events")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_parent")
        batch.drop_column("slack_channel")
        batch.drop_column("event_id")
        batch.drop_column("parent_key")
        batch.drop_column("kind")
