"""exact text: names, formats, hashes, properties and tags compare exactly

MySQL and MariaDB compare strings with the database's default collation,
usually ``utf8mb4_general_ci``: it folds case and accents, ignores trailing
spaces and gives every character outside the Basic Multilingual Plane (emoji)
the same weight. There, and only there, the tag ``'😀'`` then collided with
``'💥'`` in the unique key of one image, a property ``Arch`` with ``arch``,
and a filter on one emoji name found images named with another. On those
engines the image name, format and hash columns, property names and values
and tag values move to the binary NO PAD utf8mb4 collation of migration
0004 (``store_kit.catalog.models.binary_collation``); SQLite and PostgreSQL
already compare them exactly and are left alone. None of these columns is
part of a foreign key. The downgrade returns to the table's default
collation; it fails (changing nothing of that table) if rows that differ
only in case, accent, trailing spaces or emoji now collide in a unique key.

Revision ID: 0006
Revises: 0004 (0005, sort indexes, is built on another branch: when both are
merged this revises 0005)
"""
from alembic import op

from store_kit.catalog.models import binary_collation

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

#: table -> [(column, length, nullable)]
COLUMNS = {
    'images': [('name', 255, True), ('checksum', 32, True), ('os_hash_algo', 64, True),
               ('os_hash_value', 128, True), ('disk_format', 20, True),
               ('container_format', 20, True)],
    'properties': [('name', 255, False), ('value', 255, True)],
    'tags': [('value', 255, False)],
}


def _set_collation(collate):
    if op.get_bind().dialect.name not in ('mysql', 'mariadb'):
        return
    for table, columns in COLUMNS.items():
        op.execute('ALTER TABLE %s %s' % (table, ', '.join(
            'MODIFY %s VARCHAR(%d)%s %s' % (name, length, collate,
                                            'NULL' if nullable else 'NOT NULL')
            for name, length, nullable in columns)))


def upgrade():
    collation = binary_collation(op.get_bind().dialect)
    _set_collation(' CHARACTER SET utf8mb4 COLLATE %s' % collation)


def downgrade():
    _set_collation('')
