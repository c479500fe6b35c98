"""exact identifiers: image ids, owners and members compare byte for byte

MySQL and MariaDB compare strings with the database's default collation,
usually ``utf8mb4_general_ci``: case- and accent-insensitive, trailing
spaces ignored.  Project ``ALICE`` then listed ``alice``'s private images and
``image_get('ABC...')`` found image ``abc...``.  On those engines every id,
owner and member column moves to a binary NO PAD collation
(``store_kit.catalog.models.binary_collation``); SQLite and PostgreSQL
already compare exactly and are left alone.

MariaDB refuses to change the collation of a column a foreign key uses
(even with ``foreign_key_checks=0``), so the foreign keys onto ``images.id``
are dropped first and recreated, with their names, afterwards.  The
downgrade goes back to the table's default collation; it fails (changing
nothing of that table) if rows that differ only in case, accent or trailing
spaces now collide in a unique key.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from store_kit.catalog.models import binary_collation

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

#: table -> [(column, length, nullable)] of every id, owner and member column
COLUMNS = {
    'images': [('id', 36, False), ('owner', 255, True)],
    'properties': [('image_id', 36, False)],
    'tags': [('image_id', 36, False)],
    'locations': [('image_id', 36, False)],
    'members': [('image_id', 36, False), ('member', 255, False)],
    'dependencies': [('source_id', 36, False), ('target_id', 36, False)],
    'copy_leases': [('image_id', 36, False)],
}


def _is_mysql(bind):
    return bind.dialect.name in ('mysql', 'mariadb')


def _foreign_keys(bind):
    """(table, name, columns, referred columns) of every FK onto images."""
    inspector = sa.inspect(bind)
    found = []
    for table in COLUMNS:
        for fk in inspector.get_foreign_keys(table):
            if fk['referred_table'] == 'images':
                found.append((table, fk['name'], fk['constrained_columns'],
                              fk['referred_columns']))
    return found


def _set_collation(collate):
    bind = op.get_bind()
    if not _is_mysql(bind):
        return
    fks = _foreign_keys(bind)
    for table, name, _cols, _refs in fks:
        op.drop_constraint(name, table, type_='foreignkey')
    for table, columns in COLUMNS.items():
        op.execute('ALTER TABLE %s %s' % (table, ', '.join(
            'MODIFY %s VARCHAR(%d)%s %s' % (name, length, collate,
                                            'NULL' if nullable else 'NOT NULL')
            for name, length, nullable in columns)))
    for table, name, cols, refs in fks:
        op.create_foreign_key(name, table, 'images', cols, refs)


def upgrade():
    collation = binary_collation(op.get_bind().dialect)
    _set_collation(' CHARACTER SET utf8mb4 COLLATE %s' % collation)


def downgrade():
    _set_collation('')
