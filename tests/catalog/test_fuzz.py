"""Odd input never escapes the catalog as anything but a StoreKitError.

Every catalog method is called with strings holding lone surrogates and NUL,
integers beyond every column type, floats, bytes, containers where scalars
belong, and JSON-less metadata, on every engine. Whatever happens, the only
exceptions are ``store_kit.exceptions.StoreKitError`` subclasses; a value
that cannot be stored is ``Invalid`` naming its field.
"""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from store_kit import exceptions
from store_kit.context import RequestContext

OWNER = RequestContext('alice')
ADMIN = RequestContext('admin', is_admin=True)

#: characters of every category, lone surrogates included
_ANY_CHAR = st.characters(exclude_categories=[])
ODD_TEXT = st.one_of(
    st.sampled_from(['\ud800', 'a\udcffb', '\x00', 'nul\x00in', 'é', 'e\u0301', 'ALICE',
                     'alice ', '', ' ', '\u202e', 'x' * 300, '\U0001f4a5',
                     'http://u:pw@h.example/x?sig=1', 'http://***@h.example/x',
                     'file:///data/\ud800', 'http://h.example/\x00', 'in:a,\ud800',
                     'gte:\ud800', 'gt:9999-12-31T23:59:59-01:00', 'lt:0001-01-01T00:00+01:00',
                     'active', 'accepted', 'public', 'nan', '9' * 5000]),
    st.text(_ANY_CHAR, max_size=12),
)
ODD_INT = st.one_of(st.sampled_from([2 ** 63, 2 ** 63 - 1, -2 ** 63 - 1, 2 ** 31, 2 ** 31 - 1,
                                     -1, 0, 2 ** 64]),
                    st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                    st.builds(pow, st.just(10), st.just(5000)))   # too long for str()
ODD_SCALAR = st.one_of(ODD_TEXT, ODD_INT, st.none(), st.booleans(),
                       st.floats(allow_nan=True, allow_infinity=True),
                       st.binary(max_size=8), st.just(datetime.datetime.max),
                       st.just(datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc)),
                       st.just(object()))
ODD = st.recursive(ODD_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.one_of(ODD_TEXT, ODD_INT), inner,
                                                 max_size=3),
    st.sets(st.one_of(ODD_TEXT, ODD_INT), max_size=2), st.tuples(inner)), max_leaves=5)

IMAGE_KEYS = ('id', 'name', 'status', 'visibility', 'owner', 'size', 'virtual_size',
              'checksum', 'os_hash_algo', 'os_hash_value', 'disk_format', 'container_format',
              'min_disk', 'min_ram', 'protected', 'os_hidden', 'created_at', 'updated_at',
              'properties', 'tags', 'locations', 'deleted', 'bogus')
ODD_LOCATION = st.one_of(
    st.fixed_dictionaries({'url': ODD_TEXT}, optional={'metadata': ODD, 'status': ODD,
                                                       'id': ODD}),
    st.fixed_dictionaries({'url': st.just('file:///data/ok')}, optional={
        'metadata': st.dictionaries(ODD_TEXT, ODD, max_size=3), 'status': ODD, 'id': ODD}),
    ODD)
ODD_IMAGE = st.dictionaries(st.sampled_from(IMAGE_KEYS), ODD, max_size=4).flatmap(
    lambda d: st.fixed_dictionaries(
        {}, optional={'properties': st.one_of(st.dictionaries(ODD_TEXT, ODD, max_size=3), ODD),
                      'tags': st.one_of(st.lists(ODD_TEXT, max_size=3), ODD),
                      'locations': st.one_of(st.lists(ODD_LOCATION, max_size=2), ODD)})
    .map(lambda extra: dict(d, **extra)))
ODD_ID = st.one_of(ODD, st.sampled_from(['@image', '@other']))
FILTER_KEYS = ('id', 'name', 'owner', 'status', 'visibility', 'checksum', 'os_hidden',
               'protected', 'size_min', 'size_max', 'min_ram_max', 'created_at', 'updated_at',
               'changes-since', 'deleted', 'properties', 'tags', 'bogus')
ODD_FILTERS = st.one_of(st.dictionaries(st.sampled_from(FILTER_KEYS), ODD, max_size=3), ODD)

FUZZ = settings(max_examples=20, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture
def world(db):
    image = db.image_create(OWNER, {'name': 'i', 'visibility': 'shared', 'status': 'active',
                                    'locations': [{'url': 'file:///data/i', 'metadata': {}}]})
    other = db.image_create(OWNER, {'name': 'o', 'visibility': 'public'})
    member = db.image_member_create(OWNER, {'image_id': image['id'], 'member': 'bob'})
    return {'@image': image['id'], '@other': other['id'], 'member': member['id'],
            'location': image['locations'][0]['id']}


def _resolve(world, value):
    if isinstance(value, str) and value in world:
        return world[value]
    return value


def only_store_kit_errors(call):
    """Run ``call``; any exception must be a StoreKitError whose message
    can be printed and logged (UTF-8 encodable)."""
    try:
        call()
    except exceptions.StoreKitError as exc:
        str(exc).encode('utf-8')


CALLS = {
    'image_create': lambda db, w, a: db.image_create(a['ctx'], a['image']),
    'image_update': lambda db, w, a: db.image_update(
        a['ctx'], _resolve(w, a['id']), a['image'], purge_props=a['flag'],
        from_state=a['scalar']),
    'image_destroy': lambda db, w, a: db.image_destroy(a['ctx'], _resolve(w, a['id']),
                                                       delayed=a['flag']),
    'image_restore': lambda db, w, a: db.image_restore(a['ctx'], _resolve(w, a['id'])),
    'image_get': lambda db, w, a: db.image_get(a['ctx'], _resolve(w, a['id']),
                                               force_show_deleted=a['flag']),
    'image_get_all': lambda db, w, a: db.image_get_all(
        a['ctx'], filters=a['filters'], marker=_resolve(w, a['id']), limit=a['int'],
        sort_key=a['scalar'], sort_dir=a['odd'], member_status=a['text'],
        is_public=a['odd2'], return_tag=a['flag']),
    'image_get_all_filters': lambda db, w, a: db.image_get_all(a['ctx'], filters=a['filters']),
    'check_location_add': lambda db, w, a: db.check_location_add(
        a['ctx'], _resolve(w, a['id']), a['text']),
    'read_locations': lambda db, w, a: db.read_locations(a['ctx'], _resolve(w, a['id'])),
    'image_location_add': lambda db, w, a: db.image_location_add(
        a['ctx'], _resolve(w, a['id']), a['location']),
    'image_location_update': lambda db, w, a: db.image_location_update(
        a['ctx'], w['@image'], dict(a['location'], id=w['location'])
        if isinstance(a['location'], dict) and a['flag'] else a['location']),
    'image_location_delete': lambda db, w, a: db.image_location_delete(
        a['ctx'], _resolve(w, a['id']), w['location'] if a['flag'] else a['odd'],
        a['text'], delete_time=a['odd2']),
    'image_property_create': lambda db, w, a: db.image_property_create(
        a['ctx'], {'image_id': _resolve(w, a['id']), 'name': a['text'], 'value': a['odd']}),
    'image_property_delete': lambda db, w, a: db.image_property_delete(
        a['ctx'], a['odd'], _resolve(w, a['id'])),
    'image_member_create': lambda db, w, a: db.image_member_create(
        a['ctx'], {'image_id': _resolve(w, a['id']), 'member': a['text'],
                   'can_share': a['odd'], 'status': a['odd2']}),
    'image_member_update': lambda db, w, a: db.image_member_update(
        a['ctx'], w['member'] if a['flag'] else a['odd'], {'status': a['odd2']}),
    'image_member_delete': lambda db, w, a: db.image_member_delete(a['ctx'], a['odd']),
    'image_member_find': lambda db, w, a: db.image_member_find(
        a['ctx'], image_id=_resolve(w, a['id']), member=a['text'], status=a['odd'],
        include_deleted=a['flag']),
    'image_member_count': lambda db, w, a: db.image_member_count(a['ctx'],
                                                                 _resolve(w, a['id'])),
    'image_tag_set_all': lambda db, w, a: db.image_tag_set_all(
        a['ctx'], _resolve(w, a['id']), a['odd']),
    'image_tag_create': lambda db, w, a: db.image_tag_create(
        a['ctx'], _resolve(w, a['id']), a['text'] if a['flag'] else a['odd']),
    'image_tag_delete': lambda db, w, a: db.image_tag_delete(
        a['ctx'], _resolve(w, a['id']), a['odd']),
    'image_tag_get_all': lambda db, w, a: db.image_tag_get_all(a['ctx'],
                                                               _resolve(w, a['id'])),
    'set_hard_dependencies': lambda db, w, a: db.set_hard_dependencies(
        a['ctx'], w['@image'] if a['flag'] else _resolve(w, a['id']),
        [_resolve(w, a['odd'])] if a['flag'] else a['odd']),
    'delete_hard_dependencies': lambda db, w, a: db.delete_hard_dependencies(
        a['ctx'], _resolve(w, a['id']), a['odd']),
    'get_hard_dependencies': lambda db, w, a: db.get_hard_dependencies(
        a['ctx'], _resolve(w, a['id'])),
    'get_hard_dependencies_children': lambda db, w, a: db.get_hard_dependencies_children(
        a['ctx'], _resolve(w, a['id'])),
    'is_image_visible': lambda db, w, a: db.is_image_visible(
        a['ctx'], {'id': _resolve(w, a['id']), 'owner': a['text'], 'visibility': a['odd']},
        status=a['odd2']),
    'user_get_storage_usage': lambda db, w, a: db.user_get_storage_usage(
        a['ctx'], a['text'], image_id=_resolve(w, a['id'])),
    'user_get_staging_usage': lambda db, w, a: db.user_get_staging_usage(a['ctx'], a['odd']),
    'user_get_image_count': lambda db, w, a: db.user_get_image_count(a['ctx'], a['text']),
    'user_get_uploading_count': lambda db, w, a: db.user_get_uploading_count(
        a['ctx'], a['odd']),
    'image_set_property_atomic': lambda db, w, a: db.image_set_property_atomic(
        a['ctx'], _resolve(w, a['id']), a['text'], a['odd']),
    'image_delete_property_atomic': lambda db, w, a: db.image_delete_property_atomic(
        a['ctx'], _resolve(w, a['id']), a['odd'], a['text']),
    'image_update_atomic_props': lambda db, w, a: db.image_update(
        a['ctx'], _resolve(w, a['id']), a['image'], purge_props=a['flag'],
        atomic_props=a['odd']),
    'location_references': lambda db, w, a: db.location_references(
        [a['text']], exclude_ids=[a['int']]),
    'referenced_keys': lambda db, w, a: db.referenced_keys([a['text'], a['text']]),
    'claim_pending_deletes': lambda db, w, a: db.claim_pending_deletes(
        a['text'], older_than=a['odd'], limit=a['int'], lease_seconds=a['odd2']),
    'complete_pending_delete': lambda db, w, a: db.complete_pending_delete(a['odd'], a['text']),
    'fail_pending_delete': lambda db, w, a: db.fail_pending_delete(
        a['odd'], a['text'], a['odd2'], retry_after_seconds=a['int']),
    'renew_leases': lambda db, w, a: db.renew_leases(a['odd'], a['text'], a['odd2']),
    'acquire_copy_lease': lambda db, w, a: db.acquire_copy_lease(
        _resolve(w, a['id']), a['text'], a['odd'], a['odd2']),
    'renew_copy_lease': lambda db, w, a: db.renew_copy_lease(
        _resolve(w, a['id']), a['text'], a['odd'], a['odd2']),
    'release_copy_lease': lambda db, w, a: db.release_copy_lease(
        _resolve(w, a['id']), a['text'], a['odd']),
    'commit_copy': lambda db, w, a: db.commit_copy(
        _resolve(w, a['id']), 'cold', a['text'], a['odd'], 'me',
        retire_location_id=a['odd2']),
    'stale_uploads': lambda db, w, a: db.stale_uploads(a['odd'], limit=a['int']),
    'kill_stale_upload': lambda db, w, a: db.kill_stale_upload(_resolve(w, a['id']),
                                                               a['odd']),
    'retire_broken_location': lambda db, w, a: db.retire_broken_location(a['odd']),
}

ARGS = st.fixed_dictionaries({
    'ctx': st.one_of(st.sampled_from([OWNER, ADMIN, RequestContext('bob')]),
                     ODD_TEXT.map(RequestContext)),
    'id': ODD_ID, 'image': ODD_IMAGE, 'location': ODD_LOCATION, 'filters': ODD_FILTERS,
    'text': ODD_TEXT, 'int': st.one_of(ODD_INT, st.none()), 'scalar': ODD_SCALAR,
    'odd': ODD, 'odd2': ODD, 'flag': st.booleans(),
})


@pytest.mark.parametrize('method', sorted(CALLS))
@FUZZ
@given(args=ARGS)
def test_only_store_kit_errors_escape(db, world, method, args):
    only_store_kit_errors(lambda: CALLS[method](db, world, args))
