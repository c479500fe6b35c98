"""Migrations build exactly the schema the models describe, on every engine."""

import datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store_kit.catalog import Catalog, models, schema


def test_empty_database_migrates_to_head_matching_models(empty_url):
    db = Catalog(empty_url)
    try:
        assert db.schema_version() is None
        db.create_schema()
        assert db.schema_version() == schema.head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={'compare_type': True}),
                models.metadata)
        assert diff == []
        db.create_schema()          # idempotent
        assert db.schema_version() == schema.head_revision()
    finally:
        db.dispose()


def test_migration_seeds_the_dependency_lock_row(migrated):
    with migrated.engine.connect() as conn:
        names = [r.name for r in conn.execute(models.locks.select())]
    assert names == [models.DEPENDENCY_LOCK]


def test_sqlite_file_parent_directory_is_created(tmp_path):
    path = tmp_path / 'a' / 'b' / 'catalog.db'
    db = Catalog('sqlite:///%s' % path)
    try:
        db.create_schema()
        assert path.exists()
        assert db.url == 'sqlite:///%s' % path
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql('PRAGMA journal_mode').scalar() == 'wal'
            assert conn.exec_driver_sql('PRAGMA foreign_keys').scalar() == 1
    finally:
        db.dispose()


def test_manage_sync_and_version(empty_url):
    from store_kit.catalog import manage
    assert manage.db_version(empty_url) is None
    assert manage.db_sync(empty_url) == schema.head_revision()
    assert manage.db_version(empty_url) == schema.head_revision()


def test_downgrade_to_base_removes_the_tables(empty_url):
    from alembic import command
    db = Catalog(empty_url)
    try:
        db.create_schema()
        with db.engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), 'base')
        names = set(sa.inspect(db.engine).get_table_names())
        assert names <= {'alembic_version'}
        assert db.schema_version() is None
    finally:
        db.dispose()


def test_unreachable_database_is_a_catalog_error_not_a_driver_error():
    from store_kit import exceptions
    from store_kit.context import RequestContext
    for url in ('postgresql+psycopg://postgres:s3cret@127.0.0.1:1/nowhere',
                'mysql+pymysql://root:s3cret@127.0.0.1:1/nowhere'):
        db = Catalog(url)
        try:
            with pytest.raises(exceptions.CatalogUnavailable,
                               match='image abc: .*Connection refused') as info:
                db.image_get(RequestContext('p1'), 'abc')
            assert 's3cret' not in str(info.value)
        finally:
            db.dispose()


def _foreign_keys(engine):
    inspector = sa.inspect(engine)
    return sorted((t, tuple(fk['constrained_columns']), fk['referred_table'])
                  for t in inspector.get_table_names() for fk in inspector.get_foreign_keys(t))


def _identifier_collations(engine):
    inspector = sa.inspect(engine)
    return {(t, c['name']): getattr(c['type'], 'collation', None)
            for t in models.metadata.tables for c in inspector.get_columns(t)
            if isinstance(models.metadata.tables[t].c[c['name']].type, models.Identifier)}


def test_0004_makes_identifiers_exact_keeping_rows_and_foreign_keys(empty_url):
    """0003 -> 0004 on a filled catalog: rows and foreign keys survive, ids,
    owners and members then compare exactly; the downgrade undoes it."""
    from alembic import command
    from store_kit.context import RequestContext
    db = Catalog(empty_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), '0003')
        fks = _foreign_keys(db.engine)
        assert len(fks) == 7
        now = datetime.datetime(2024, 1, 1)
        with db.engine.begin() as conn:
            for ident in ('img-a', 'img-b'):
                conn.execute(models.images.insert().values(
                    id=ident, owner='alice', status='active', visibility='shared',
                    min_disk=0, min_ram=0, protected=False, os_hidden=False,
                    created_at=now, updated_at=now, deleted=False))
            conn.execute(models.members.insert().values(
                image_id='img-a', member='bob', can_share=False, status='accepted',
                created_at=now, updated_at=now, deleted=False))
            conn.execute(models.dependencies.insert().values(
                source_id='img-b', target_id='img-a', created_at=now))
        db.create_schema()
        assert _foreign_keys(db.engine) == fks
        if db.dialect in ('mysql', 'mariadb'):
            with db.engine.connect() as conn:
                want = models.binary_collation(conn.dialect)
            assert set(_identifier_collations(db.engine).values()) == {want}
        assert [i['id'] for i in db.image_get_all(RequestContext('bob'))] == ['img-a']
        assert db.image_get_all(RequestContext('BOB')) == []
        assert db.image_get_all(RequestContext('ALICE')) == []
        assert db.get_hard_dependencies(RequestContext('alice'), 'img-b') == ['img-a']
        with pytest.raises(sa.exc.IntegrityError):  # the foreign keys hold, exactly
            with db.engine.begin() as conn:
                conn.execute(models.members.insert().values(
                    image_id='IMG-A', member='carol', can_share=False, status='pending',
                    created_at=now, updated_at=now, deleted=False))
        with db.engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), '0003')
        assert _foreign_keys(db.engine) == fks
        if db.dialect in ('mysql', 'mariadb'):
            assert set(_identifier_collations(db.engine).values()) == {None}
    finally:
        db.dispose()


def test_0007_lengthens_property_values_keeping_rows(empty_url):
    """0006 -> 0007 keeps the properties (and their unique key); the
    downgrade refuses, changing nothing, while a value is too long for 0006
    (SQLite, which does not enforce lengths, keeps it)."""
    from alembic import command
    from store_kit.context import RequestContext
    owner = RequestContext('alice')
    db = Catalog(empty_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), '0006')
        image = db.image_create(owner, {'name': 'i', 'properties': {'short': 'v' * 255}})
        db.create_schema()
        db.image_update(owner, image['id'], {'properties': {'long': 'w' * 1536}})
        assert db.image_get(owner, image['id'])['properties'] == {
            'short': 'v' * 255, 'long': 'w' * 1536}
        with pytest.raises(sa.exc.IntegrityError):
            with db.engine.begin() as conn:
                conn.execute(models.properties.insert().values(
                    image_id=image['id'], name='short', value='again', deleted=False,
                    created_at=datetime.datetime(2024, 1, 1),
                    updated_at=datetime.datetime(2024, 1, 1)))
        if db.dialect == 'sqlite':
            return
        with pytest.raises(sa.exc.DBAPIError):
            with db.engine.begin() as conn:
                command.downgrade(schema.alembic_config(conn), '0006')
        assert db.schema_version() == schema.head_revision()
        db.image_update(owner, image['id'], {'properties': {'long': None}},
                        purge_props=False)
        db.image_update(owner, image['id'], {'properties': {'short': 'v' * 255}},
                        purge_props=True)
        with db.engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), '0006')
        assert db.image_get(owner, image['id'])['properties'] == {'short': 'v' * 255}
    finally:
        db.dispose()
