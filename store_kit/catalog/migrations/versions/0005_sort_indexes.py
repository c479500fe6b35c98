"""sort indexes: every sort key of images paired with id

Every listing order ends with ``id``. With an index on the sort key alone,
engines read the rows in key order but must sort each run of equal keys by
id: for keys with few values (disk_format, container_format, os_hidden,
protected, min_ram, visibility, status) that is a sort of a large part of the
table for every page. An index on (key, id) serves the whole ORDER BY and
lets a marker seek straight to (key, id). The single-column indexes are
replaced (an equality filter on the key uses the pair as well);
created_at and updated_at were already paired. The visibility index also
holds owner and deleted: sorted by visibility, other projects' private and
community images are long runs a project cannot see, and SQLite then rejects
them from the index without reading each row.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

KEYS = ('name', 'status', 'visibility', 'owner', 'size', 'virtual_size', 'checksum',
        'os_hash_algo', 'os_hash_value', 'disk_format', 'container_format', 'min_disk',
        'min_ram', 'os_hidden', 'protected')
#: trailing columns after (key, id)
EXTRA = {'visibility': ['owner', 'deleted']}


def upgrade():
    for key in KEYS:
        op.create_index('ix_images_%s_id' % key, 'images', [key, 'id'] + EXTRA.get(key, []))
        op.drop_index('ix_images_%s' % key, table_name='images')


def downgrade():
    for key in KEYS:
        op.create_index('ix_images_%s' % key, 'images', [key])
        op.drop_index('ix_images_%s_id' % key, table_name='images')
