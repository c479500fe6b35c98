"""Text and integers behave the same on every engine: 4-byte UTF-8 (emoji)
is stored and compared exactly, case and accents count, min_disk/min_ram
stay within 32 bits."""

import pytest
from alembic import command

from store_kit import exceptions
from store_kit.catalog import Catalog, schema
from store_kit.context import RequestContext
from tests.catalog import databases

OWNER = RequestContext('alice')
BANG, GRIN = '\U0001f4a5', '\U0001f600'


def ids(rows):
    return sorted(r['id'] for r in rows)


def test_emoji_round_trip_in_every_text_field(db):
    image = db.image_create(OWNER, {
        'name': 'n' + BANG, 'visibility': 'shared', 'disk_format': 'r' + BANG,
        'properties': {'p' + BANG: 'v' + GRIN, 'p' + GRIN: 'v' + BANG},
        'tags': [BANG, GRIN]})
    member = db.image_member_create(OWNER, {'image_id': image['id'], 'member': 'm' + GRIN})
    got = db.image_get(OWNER, image['id'])
    assert got['name'] == 'n' + BANG and got['disk_format'] == 'r' + BANG
    assert got['properties'] == {'p' + BANG: 'v' + GRIN, 'p' + GRIN: 'v' + BANG}
    assert got['tags'] == [BANG, GRIN]
    assert member['member'] == 'm' + GRIN
    assert db.image_tag_get_all(OWNER, image['id']) == [BANG, GRIN]
    assert [m['member'] for m in db.image_member_find(OWNER, image_id=image['id'])] == [
        'm' + GRIN]


def test_distinct_emoji_never_collide(db):
    image = db.image_create(OWNER, {'name': BANG, 'tags': [BANG]})
    db.image_tag_create(OWNER, image['id'], GRIN)
    db.image_property_create(OWNER, {'image_id': image['id'], 'name': BANG, 'value': '1'})
    db.image_property_create(OWNER, {'image_id': image['id'], 'name': GRIN, 'value': '2'})
    db.image_set_property_atomic(OWNER, image['id'], 'lock' + GRIN, 'x')
    db.image_set_property_atomic(OWNER, image['id'], 'lock' + BANG, 'y')
    got = db.image_get(OWNER, image['id'])
    assert sorted(got['tags']) == sorted([BANG, GRIN])
    assert got['properties'] == {BANG: '1', GRIN: '2', 'lock' + GRIN: 'x', 'lock' + BANG: 'y'}
    db.image_tag_delete(OWNER, image['id'], GRIN)
    assert db.image_tag_get_all(OWNER, image['id']) == [BANG]
    with pytest.raises(exceptions.NotFound):
        db.image_delete_property_atomic(OWNER, image['id'], 'lock' + GRIN, 'y')


def test_filters_match_exactly(db):
    made = {}
    for name in (BANG, GRIN, 'cirros', 'Cirros', 'cirrós', 'cirros '):
        made[name] = db.image_create(OWNER, {'name': name, 'tags': [name],
                                             'properties': {'k': name}})['id']
    for name, image_id in made.items():
        for filters in ({'name': name}, {'name': 'eq:' + name}, {'tags': [name]},
                        {'properties': {'k': name}}):
            assert ids(db.image_get_all(OWNER, filters=filters)) == [image_id], (name, filters)


def test_case_counts_in_tags_and_property_names(db):
    image = db.image_create(OWNER, {'tags': ['A', 'a'], 'properties': {'Arch': '1', 'arch': '2'}})
    got = db.image_get(OWNER, image['id'])
    assert sorted(got['tags']) == ['A', 'a']
    assert got['properties'] == {'Arch': '1', 'arch': '2'}


@pytest.mark.parametrize('column', ['min_disk', 'min_ram'])
def test_32_bit_columns_refuse_bigger_values_on_create_and_update(db, column):
    for bad in (2 ** 31 + 42, 2 ** 31, -1):
        with pytest.raises(exceptions.Invalid, match=column):
            db.image_create(OWNER, {column: bad})
    image = db.image_create(OWNER, {column: 2 ** 31 - 1})
    assert image[column] == 2 ** 31 - 1
    with pytest.raises(exceptions.Invalid, match=column):
        db.image_update(OWNER, image['id'], {column: 2 ** 31 + 42})
    with pytest.raises(exceptions.InvalidFilterRange, match=column):
        db.image_get_all(OWNER, filters={column + '_min': 2 ** 31 + 42})
    assert db.image_get(OWNER, image['id'])[column] == 2 ** 31 - 1


@pytest.fixture
def empty_url(engine_name, tmp_path):
    url = databases.create_database(engine_name, tmp_path)
    yield url
    databases.drop_database(engine_name, url)


def test_0006_makes_text_exact_keeping_rows(empty_url):
    """0004 -> 0006 on a filled catalog: rows survive and then compare
    exactly (on MySQL/MariaDB; a no-op elsewhere); the downgrade undoes it."""
    db = Catalog(empty_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(schema.alembic_config(conn), '0004')
        image = db.image_create(OWNER, {'name': 'cirros', 'tags': [BANG],
                                        'properties': {'arch': 'x86'}})
        db.create_schema()
        db.image_tag_create(OWNER, image['id'], GRIN)
        db.image_property_create(OWNER, {'image_id': image['id'], 'name': 'Arch',
                                         'value': 'arm'})
        got = db.image_get(OWNER, image['id'])
        assert sorted(got['tags']) == sorted([BANG, GRIN])
        assert got['properties'] == {'arch': 'x86', 'Arch': 'arm'}
        assert db.image_get_all(OWNER, filters={'name': 'CIRROS'}) == []
        db.image_tag_delete(OWNER, image['id'], GRIN)
        db.image_property_delete(OWNER, 'Arch', image['id'])
        with db.engine.begin() as conn:
            command.downgrade(schema.alembic_config(conn), '0004')
        assert db.image_get(OWNER, image['id'])['tags'] == [BANG]
    finally:
        db.dispose()
