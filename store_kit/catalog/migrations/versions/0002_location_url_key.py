"""locations.url_key: the normal form key of each location URL

Data is shared between images only on purpose: the catalog refuses a
non-admin location whose URL another image already references, and nothing
deletes data still referenced elsewhere.  Both ask "who references this
URL", answered by an index on the key of its normal form
(``store_kit.location.url_key``).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

from store_kit.location import url_key

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade():
    op.add_column('locations', sa.Column('url_key', sa.String(length=32), nullable=True))
    conn = op.get_bind()
    locations = sa.table('locations', sa.column('id', sa.Integer),
                         sa.column('url', sa.Text), sa.column('url_key', sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(locations.c.id, locations.c.url)
                            .where(locations.c.id > last)
                            .order_by(locations.c.id).limit(_BATCH)).all()
        if not rows:
            break
        conn.execute(locations.update().where(locations.c.id == sa.bindparam('b_id'))
                     .values(url_key=sa.bindparam('b_key')),
                     [{'b_id': r.id, 'b_key': url_key(r.url)} for r in rows])
        last = rows[-1].id
    with op.batch_alter_table('locations') as batch:
        batch.alter_column('url_key', existing_type=sa.String(length=32), nullable=False)
    op.create_index('ix_locations_url_key_status', 'locations', ['url_key', 'status'])


def downgrade():
    op.drop_index('ix_locations_url_key_status', table_name='locations')
    with op.batch_alter_table('locations') as batch:
        batch.drop_column('url_key')
