"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:38:08.321942
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of store_kit.catalog.models at 0001.
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade():
    op.create_table(
        'images',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=30), nullable=False),
        sa.Column('visibility', sa.String(length=20), nullable=False),
        sa.Column('owner', sa.String(length=255), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('virtual_size', sa.BigInteger(), nullable=True),
        sa.Column('checksum', sa.String(length=32), nullable=True),
        sa.Column('os_hash_algo', sa.String(length=64), nullable=True),
        sa.Column('os_hash_value', sa.String(length=128), nullable=True),
        sa.Column('disk_format', sa.String(length=20), nullable=True),
        sa.Column('container_format', sa.String(length=20), nullable=True),
        sa.Column('min_disk', sa.Integer(), nullable=False),
        sa.Column('min_ram', sa.Integer(), nullable=False),
        sa.Column('protected', sa.Boolean(), nullable=False),
        sa.Column('os_hidden', sa.Boolean(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('deleted_at', TS, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_images_checksum', 'images', ['checksum'])
    op.create_index('ix_images_container_format', 'images', ['container_format'])
    op.create_index('ix_images_created_at_id', 'images', ['created_at', 'id'])
    op.create_index('ix_images_disk_format', 'images', ['disk_format'])
    op.create_index('ix_images_min_disk', 'images', ['min_disk'])
    op.create_index('ix_images_min_ram', 'images', ['min_ram'])
    op.create_index('ix_images_name', 'images', ['name'])
    op.create_index('ix_images_os_hash_value', 'images', ['os_hash_value'])
    op.create_index('ix_images_os_hidden', 'images', ['os_hidden'])
    op.create_index('ix_images_protected', 'images', ['protected'])
    op.create_index('ix_images_os_hash_algo', 'images', ['os_hash_algo'])
    op.create_index('ix_images_owner', 'images', ['owner'])
    op.create_index('ix_images_size', 'images', ['size'])
    op.create_index('ix_images_status', 'images', ['status'])
    op.create_index('ix_images_updated_at_id', 'images', ['updated_at', 'id'])
    op.create_index('ix_images_virtual_size', 'images', ['virtual_size'])
    op.create_index('ix_images_visibility', 'images', ['visibility'])

    locks = op.create_table(
        'locks',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )
    op.bulk_insert(locks, [{'name': 'dependencies'}])
    op.create_table(
        'dependencies',
        sa.Column('source_id', sa.String(length=36), nullable=False),
        sa.Column('target_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.ForeignKeyConstraint(['source_id'], ['images.id'], ),
        sa.ForeignKeyConstraint(['target_id'], ['images.id'], ),
        sa.PrimaryKeyConstraint('source_id', 'target_id')
    )
    op.create_index('ix_dependencies_target_id', 'dependencies', ['target_id', 'source_id'])

    op.create_table(
        'locations',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('image_id', sa.String(length=36), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('meta_data', JSON, nullable=True),
        sa.Column('status', sa.String(length=30), nullable=False),
        sa.Column('delete_time', TS, nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('deleted_at', TS, nullable=True),
        sa.Column('lease_owner', sa.String(length=255), nullable=True),
        sa.Column('lease_until', TS, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', TS, nullable=True),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
        sa.PrimaryKeyConstraint('id'),
        # room on each page for HOT updates of unindexed columns (metadata,
        # leases): PostgreSQL then rewrites no index entry for them
        postgresql_with={'fillfactor': 80},
    )
    op.create_index('ix_locations_image_id_status', 'locations', ['image_id', 'status'])
    op.create_index('ix_locations_status_id', 'locations', ['status', 'id'])

    op.create_table(
        'members',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('image_id', sa.String(length=36), nullable=False),
        sa.Column('member', sa.String(length=255), nullable=False),
        sa.Column('can_share', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('deleted_at', TS, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('image_id', 'member', name='uq_members_image_id_member')
    )
    op.create_index('ix_members_member_status', 'members', ['member', 'status'])

    op.create_table(
        'properties',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('image_id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('deleted_at', TS, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('image_id', 'name', name='uq_properties_image_id_name')
    )
    op.create_index('ix_properties_name_value', 'properties', ['name', 'value'])

    op.create_table(
        'tags',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('image_id', sa.String(length=36), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('deleted_at', TS, nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('image_id', 'value', name='uq_tags_image_id_value')
    )
    op.create_index('ix_tags_value', 'tags', ['value'])


def downgrade():
    # dropping a table drops its indexes (MariaDB refuses to drop an index
    # that backs a foreign key on its own)
    op.drop_table('tags')
    op.drop_table('properties')
    op.drop_table('members')
    op.drop_table('locations')
    op.drop_table('dependencies')
    op.drop_table('locks')
    op.drop_table('images')
