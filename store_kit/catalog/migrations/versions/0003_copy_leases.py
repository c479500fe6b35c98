"""copy_leases: which worker is copying which image into which store

Copies and evacuations run on many nodes at once; a lease per (image,
target store) makes sure no image is copied twice at the same time.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'copy_leases',
        sa.Column('image_id', sa.String(length=36), nullable=False),
        sa.Column('target', sa.String(length=255), nullable=False),
        sa.Column('lease_owner', sa.String(length=255), nullable=False),
        sa.Column('lease_until', TS, nullable=False),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
        sa.PrimaryKeyConstraint('image_id', 'target'),
    )


def downgrade():
    op.drop_table('copy_leases')
