"""long property values: up to 1536 bytes of UTF-8 instead of 255 characters

glance keeps property values as TEXT; its image signatures
(``img_signature``: 684 base64 characters for RSA-4096) did not fit in 255
characters, so a signed image could be neither created nor imported.  The
``(name, value)`` filter index has to fit every engine's key limit: 1536
bytes of value beside a name of up to 255 characters (1020 bytes) stays
under PostgreSQL's ~2700-byte B-tree entry; MySQL/MariaDB (3072 bytes per
key) index the first 500 characters of the value.  The downgrade fails
(changing nothing) on PostgreSQL and MariaDB if a value is now longer than
255 characters.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

from store_kit.catalog.models import binary_collation

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

INDEX = 'ix_properties_name_value'


def _resize(length, mysql_prefix):
    dialect = op.get_bind().dialect
    if dialect.name in ('mysql', 'mariadb'):
        prefix = '(%d)' % mysql_prefix if mysql_prefix else ''
        op.execute('ALTER TABLE properties DROP INDEX %s, MODIFY value VARCHAR(%d) '
                   'CHARACTER SET utf8mb4 COLLATE %s NULL, ADD INDEX %s (name, value%s)'
                   % (INDEX, length, binary_collation(dialect), INDEX, prefix))
    elif dialect.name == 'sqlite':
        with op.batch_alter_table('properties') as batch:
            batch.alter_column('value', type_=sa.String(length))
    else:
        op.alter_column('properties', 'value', type_=sa.String(length))


def upgrade():
    _resize(1536, 500)


def downgrade():
    _resize(255, None)
