"""Helpers of the catalog tests: emptying the tables, counting rows."""

import sqlalchemy as sa

from store_kit.catalog import models

CLEAN_ORDER = ('copy_leases', 'dependencies', 'members', 'tags', 'properties',
               'locations', 'images')


def clean(db):
    """Delete every row but the schema's own (alembic version, locks)."""
    with db.engine.begin() as conn:
        for name in CLEAN_ORDER:
            conn.execute(models.metadata.tables[name].delete())


def count_rows(db, table, **where):
    """Rows of ``table`` matching ``where`` (deleted ones included)."""
    t = models.metadata.tables[table]
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t).where(
            *[t.c[k] == v for k, v in where.items()])).scalar()
