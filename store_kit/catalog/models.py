"""The catalog schema: SQLAlchemy Core tables.

The alembic migrations in ``migrations/versions`` build exactly this schema;
``tests/catalog/test_migrations.py`` checks that the two agree.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

metadata = sa.MetaData()

#: Microsecond timestamps everywhere (MariaDB DATETIME defaults to seconds).
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')

#: Location metadata: JSON, stored as JSONB on PostgreSQL.
Json = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def binary_collation(dialect):
    """The exact (binary, NO PAD) utf8mb4 collation of a MySQL/MariaDB server.

    The servers' defaults fold case and accents and ignore trailing spaces.
    MySQL before 8.0.17 has only ``utf8mb4_bin``, which still pads.
    """
    if getattr(dialect, 'is_mariadb', False):
        return 'utf8mb4_nopad_bin'
    version = getattr(dialect, 'server_version_info', None) or ()
    return 'utf8mb4_0900_bin' if tuple(version) >= (8, 0, 17) else 'utf8mb4_bin'


class Identifier(sa.types.TypeDecorator):
    """A string that compares exactly on every engine: image ids, owners,
    members (SQLite and PostgreSQL compare bytes already; MySQL/MariaDB
    columns get :func:`binary_collation`)."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ('mysql', 'mariadb'):
            return dialect.type_descriptor(
                mysql.VARCHAR(self.impl.length, collation=binary_collation(dialect)))
        return dialect.type_descriptor(sa.String(self.impl.length))


class ExactText(Identifier):
    """Free text that compares exactly on every engine: image names, formats,
    hashes, property names and values, tags. MySQL/MariaDB's default
    collations fold case and accents and weigh every character outside the
    Basic Multilingual Plane (emoji) alike, so ``'💥'`` would equal ``'😀'``
    in filters and unique keys there only."""

    cache_ok = True


IMAGE_STATUSES = ('queued', 'saving', 'uploading', 'importing', 'active',
                  'deactivated', 'killed', 'pending_delete', 'deleted')
VISIBILITIES = ('private', 'shared', 'public', 'community')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected')
LOCATION_STATUSES = ('active', 'pending_delete', 'deleted')

#: Properties values are capped (as in the image API schema) so that the
#: (name, value) filter index stays within every engine's key size limit.
PROPERTY_VALUE_MAX = 255


images = sa.Table(
    'images', metadata,
    sa.Column('id', Identifier(36), primary_key=True),
    sa.Column('name', ExactText(255)),
    sa.Column('status', sa.String(30), nullable=False),
    sa.Column('visibility', sa.String(20), nullable=False),
    sa.Column('owner', Identifier(255)),
    sa.Column('size', sa.BigInteger),
    sa.Column('virtual_size', sa.BigInteger),
    sa.Column('checksum', ExactText(32)),
    sa.Column('os_hash_algo', ExactText(64)),
    sa.Column('os_hash_value', ExactText(128)),
    sa.Column('disk_format', ExactText(20)),
    sa.Column('container_format', ExactText(20)),
    sa.Column('min_disk', sa.Integer, nullable=False),
    sa.Column('min_ram', sa.Integer, nullable=False),
    sa.Column('protected', sa.Boolean, nullable=False),
    sa.Column('os_hidden', sa.Boolean, nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('deleted_at', Timestamp),
    sa.Column('deleted', sa.Boolean, nullable=False),
    sa.Index('ix_images_created_at_id', 'created_at', 'id'),
    sa.Index('ix_images_updated_at_id', 'updated_at', 'id'),
    sa.Index('ix_images_name', 'name'),
    sa.Index('ix_images_status', 'status'),
    sa.Index('ix_images_visibility', 'visibility'),
    sa.Index('ix_images_owner', 'owner'),
    sa.Index('ix_images_size', 'size'),
    sa.Index('ix_images_virtual_size', 'virtual_size'),
    sa.Index('ix_images_checksum', 'checksum'),
    sa.Index('ix_images_os_hash_value', 'os_hash_value'),
    sa.Index('ix_images_disk_format', 'disk_format'),
    sa.Index('ix_images_container_format', 'container_format'),
    sa.Index('ix_images_min_disk', 'min_disk'),
    sa.Index('ix_images_min_ram', 'min_ram'),
    sa.Index('ix_images_os_hidden', 'os_hidden'),
    sa.Index('ix_images_protected', 'protected'),
    sa.Index('ix_images_os_hash_algo', 'os_hash_algo'),
)

properties = sa.Table(
    'properties', metadata,
    sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
    sa.Column('image_id', Identifier(36), sa.ForeignKey('images.id'), nullable=False),
    sa.Column('name', ExactText(255), nullable=False),
    sa.Column('value', ExactText(PROPERTY_VALUE_MAX)),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('deleted_at', Timestamp),
    sa.Column('deleted', sa.Boolean, nullable=False),
    sa.UniqueConstraint('image_id', 'name', name='uq_properties_image_id_name'),
    sa.Index('ix_properties_name_value', 'name', 'value'),
)

tags = sa.Table(
    'tags', metadata,
    sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
    sa.Column('image_id', Identifier(36), sa.ForeignKey('images.id'), nullable=False),
    sa.Column('value', ExactText(255), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('deleted_at', Timestamp),
    sa.Column('deleted', sa.Boolean, nullable=False),
    sa.UniqueConstraint('image_id', 'value', name='uq_tags_image_id_value'),
    sa.Index('ix_tags_value', 'value'),
)

locations = sa.Table(
    'locations', metadata,
    sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
    sa.Column('image_id', Identifier(36), sa.ForeignKey('images.id'), nullable=False),
    sa.Column('url', sa.Text, nullable=False),
    # store_kit.location.url_key(url): who else references this data
    sa.Column('url_key', sa.String(32), nullable=False),
    sa.Column('meta_data', Json),
    sa.Column('status', sa.String(30), nullable=False),
    sa.Column('delete_time', Timestamp),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('deleted_at', Timestamp),
    # scrubber work claims
    sa.Column('lease_owner', sa.String(255)),
    sa.Column('lease_until', Timestamp),
    sa.Column('attempts', sa.Integer, nullable=False),
    sa.Column('last_error', sa.Text),
    sa.Column('next_attempt_at', Timestamp),
    sa.Index('ix_locations_image_id_status', 'image_id', 'status'),
    sa.Index('ix_locations_status_id', 'status', 'id'),
    sa.Index('ix_locations_url_key_status', 'url_key', 'status'),
    # room for HOT updates of metadata and lease columns (see the migration)
    postgresql_with={'fillfactor': 80},
)

members = sa.Table(
    'members', metadata,
    sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
    sa.Column('image_id', Identifier(36), sa.ForeignKey('images.id'), nullable=False),
    sa.Column('member', Identifier(255), nullable=False),
    sa.Column('can_share', sa.Boolean, nullable=False),
    sa.Column('status', sa.String(20), nullable=False),
    sa.Column('created_at', Timestamp, nullable=False),
    sa.Column('updated_at', Timestamp, nullable=False),
    sa.Column('deleted_at', Timestamp),
    sa.Column('deleted', sa.Boolean, nullable=False),
    # one record per (image, member), live or deleted: re-adding revives it
    sa.UniqueConstraint('image_id', 'member', name='uq_members_image_id_member'),
    sa.Index('ix_members_member_status', 'member', 'status'),
)

dependencies = sa.Table(
    'dependencies', metadata,
    sa.Column('source_id', Identifier(36), sa.ForeignKey('images.id'), primary_key=True),
    sa.Column('target_id', Identifier(36), sa.ForeignKey('images.id'), primary_key=True),
    sa.Column('created_at', Timestamp, nullable=False),
    # covering: the recursive step reads source_id from the index alone
    sa.Index('ix_dependencies_target_id', 'target_id', 'source_id'),
)

#: Who is copying which image into which store (copy, evacuate): one live
#: lease per (image, target) across every node.
copy_leases = sa.Table(
    'copy_leases', metadata,
    sa.Column('image_id', Identifier(36), sa.ForeignKey('images.id'), primary_key=True),
    sa.Column('target', sa.String(255), primary_key=True),
    sa.Column('lease_owner', sa.String(255), nullable=False),
    sa.Column('lease_until', Timestamp, nullable=False),
)

#: Named rows locked FOR UPDATE to serialise changes of a shared structure
#: (the dependency graph) on engines with row locks.
locks = sa.Table(
    'locks', metadata,
    sa.Column('name', sa.String(64), primary_key=True),
)

DEPENDENCY_LOCK = 'dependencies'
