"""mail at scale: each email's bytes, built once at its first attempt, and which
processes cannot reach the SMTP server (their circuit breaker is open)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_email") as batch:
        batch.add_column(sa.Column("raw_message", sa.LargeBinary(), nullable=True))
    op.create_table(
        "mail_server_state",
        sa.Column("process", sa.String(length=120), nullable=False),
        sa.Column("unreachable_since", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process", name=op.f("pk_mail_server_state")),
    )


def downgrade():
    op.drop_table("mail_server_state")
    with op.batch_alter_table("outbox_email") as batch:
        batch.drop_column("raw_message")
