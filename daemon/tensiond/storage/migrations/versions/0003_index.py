"""The tension index: a row of running state per dyad or country, and an hourly series.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from tensiond.storage.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_states",
        sa.Column("scope", sa.String(10), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("baseline_median", sa.Float()),
        sa.Column("baseline_spread", sa.Float()),
        sa.Column("baseline_samples", sa.Integer()),
        sa.Column("baseline_at", UTCDateTime()),
        sa.Column("spiking", sa.Boolean(), nullable=False),
        sa.Column("spike_at", UTCDateTime()),
        sa.Column("peak", sa.Float(), nullable=False),
        sa.Column("reference_median", sa.Float(), nullable=False),
        sa.Column("reference_spread", sa.Float(), nullable=False),
    )
    op.create_index("ix_index_states_spiking", "index_states", ["spiking"])
    op.create_table(
        "index_points",
        sa.Column("scope", sa.String(10), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("hour", UTCDateTime(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.create_index("ix_index_points_hour", "index_points", ["hour"])


def downgrade() -> None:
    op.drop_table("index_points")
    op.drop_table("index_states")
