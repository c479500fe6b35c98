"""Image create / get / update / destroy / restore, properties and tags."""

import uuid

import pytest

from store_kit import exceptions
from tests.catalog.helpers import count_rows


def make(db, ctx, **values):
    values.setdefault('name', 'img')
    return db.image_create(ctx, values)


def test_create_and_get_round_trip(db, p1):
    image = make(db, p1, name='cirros', visibility='private', size=10,
                 properties={'os_distro': 'cirros', 'arch': 'x86_64'}, tags=['a', 'b'],
                 locations=[{'url': 'file:///d/1', 'metadata': {'store': 'fast'}}],
                 disk_format='qcow2', container_format='bare', min_ram=64)
    got = db.image_get(p1, image['id'])
    assert got == image
    assert got['owner'] == 'p1' and got['status'] == 'queued'
    assert got['properties'] == {'os_distro': 'cirros', 'arch': 'x86_64'}
    assert got['tags'] == ['a', 'b']
    assert [(loc['url'], loc['metadata'], loc['status']) for loc in got['locations']] == [
        ('file:///d/1', {'store': 'fast'}, 'active')]
    uuid.UUID(got['id'])


def test_create_with_explicit_id_twice_is_duplicate(db, p1):
    make(db, p1, id='11111111-2222-3333-4444-555555555555')
    with pytest.raises(exceptions.Duplicate, match='11111111-2222'):
        make(db, p1, id='11111111-2222-3333-4444-555555555555')


@pytest.mark.parametrize('values, word', [
    ({'colour': 'red'}, 'colour'),
    ({'status': 'bogus'}, 'bogus'),
    ({'visibility': 'everyone'}, 'everyone'),
    ({'size': -1}, 'size'),
    ({'protected': 'yes'}, 'protected'),
    ({'properties': {'k': 'x' * 1537}}, "'k'"),
    ({'disk_format': 'q' * 21}, 'disk_format'),
    ({'name': 42}, 'name'),
])
def test_create_rejects_bad_values_naming_them(db, p1, values, word):
    with pytest.raises(exceptions.Invalid, match=word):
        make(db, p1, **values)
    assert count_rows(db, 'images') == 0


def test_non_admin_cannot_create_for_another_owner(db, p1, admin):
    with pytest.raises(exceptions.Forbidden, match='p2'):
        make(db, p1, owner='p2')
    assert make(db, admin, owner='p2')['owner'] == 'p2'


def test_update_columns_properties_tags(db, p1):
    image = make(db, p1, properties={'a': '1', 'b': '2'}, tags=['x'])
    got = db.image_update(p1, image['id'], {'name': 'new', 'properties': {'a': '9', 'c': '3'},
                                            'tags': ['y', 'z']})
    assert got['name'] == 'new'
    assert got['properties'] == {'a': '9', 'b': '2', 'c': '3'}
    assert got['tags'] == ['y', 'z']
    assert got['updated_at'] >= image['updated_at']
    got = db.image_update(p1, image['id'], {'properties': {'c': '3'}}, purge_props=True)
    assert got['properties'] == {'c': '3'}


def test_update_unknown_keys_named(db, p1):
    image = make(db, p1)
    with pytest.raises(exceptions.Invalid, match='bar, foo'):
        db.image_update(p1, image['id'], {'foo': 1, 'bar': 2, 'name': 'x'})
    assert db.image_get(p1, image['id'])['name'] == 'img'


def test_update_from_state_is_compare_and_set(db, p1):
    image = make(db, p1)
    db.image_update(p1, image['id'], {'status': 'saving'}, from_state='queued')
    with pytest.raises(exceptions.Conflict, match='saving, not queued'):
        db.image_update(p1, image['id'], {'status': 'active'}, from_state='queued')
    assert db.image_get(p1, image['id'])['status'] == 'saving'


def test_update_is_one_transaction(db, p1):
    image = make(db, p1, properties={'a': '1'}, tags=['t'],
                 locations=[{'url': 'file:///1'}])
    loc_id = image['locations'][0]['id']
    with pytest.raises(exceptions.Invalid, match='deleted to active'):
        # the location change fails after columns, properties and tags were written
        db.image_update(p1, image['id'], {'name': 'changed', 'properties': {'a': '2'},
                                          'tags': ['u'], 'locations': [
                                              {'id': loc_id, 'status': 'deleted'},
                                              {'id': loc_id, 'status': 'active'}]})
    got = db.image_get(p1, image['id'])
    assert (got['name'], got['properties'], got['tags']) == ('img', {'a': '1'}, ['t'])
    assert [loc['id'] for loc in got['locations']] == [loc_id]


def test_update_locations_replaces_the_active_set(db, p1):
    image = make(db, p1, locations=[{'url': 'file:///1'}, {'url': 'file:///2'}])
    first = image['locations'][0]
    got = db.image_update(p1, image['id'], {'locations': [
        {'id': first['id'], 'metadata': {'store': 'fast'}}, {'url': 'file:///3'}]})
    assert [(loc['url'], loc['metadata']) for loc in got['locations']] == [
        ('file:///1', {'store': 'fast'}), ('file:///3', {})]
    assert count_rows(db, 'locations', status='deleted') == 1


def test_others_cannot_update_or_destroy(db, p1, p2):
    image = make(db, p1, visibility='public')
    with pytest.raises(exceptions.Forbidden, match=image['id']):
        db.image_update(p2, image['id'], {'name': 'hijack'})
    with pytest.raises(exceptions.Forbidden, match=image['id']):
        db.image_destroy(p2, image['id'])
    private = make(db, p1, visibility='private')
    with pytest.raises(exceptions.ImageNotFound, match=private['id']):
        db.image_update(p2, private['id'], {'name': 'hijack'})


def test_admin_may_change_any_image(db, p1, admin):
    image = make(db, p1, visibility='private')
    assert db.image_update(admin, image['id'], {'name': 'adm'})['name'] == 'adm'


def test_missing_image_errors_name_the_id(db, p1):
    missing = str(uuid.uuid4())
    for call in (lambda: db.image_get(p1, missing),
                 lambda: db.image_update(p1, missing, {'name': 'x'}),
                 lambda: db.image_destroy(p1, missing)):
        with pytest.raises(exceptions.ImageNotFound, match=missing):
            call()


def test_destroy_soft_deletes_everything_in_one_go(db, p1, p2, admin):
    image = make(db, p1, visibility='shared', properties={'a': '1'}, tags=['t'],
                 locations=[{'url': 'file:///1'}, {'url': 'file:///2'}])
    db.image_member_create(p1, {'image_id': image['id'], 'member': 'p2'})
    gone = db.image_destroy(p1, image['id'])
    assert gone['deleted'] and gone['status'] == 'deleted' and gone['deleted_at']
    assert gone['locations'] == []
    with pytest.raises(exceptions.ImageNotFound):
        db.image_get(p1, image['id'])
    assert db.image_get(p1, image['id'], force_show_deleted=True)['deleted']
    assert db.image_get(admin, image['id'])['deleted']
    assert count_rows(db, 'properties', deleted=True) == 1
    assert count_rows(db, 'tags', deleted=True) == 1
    assert count_rows(db, 'members', deleted=True) == 1
    assert count_rows(db, 'locations', status='deleted') == 2
    assert db.image_get_all(p1) == []
    with pytest.raises(exceptions.ImageNotFound):
        db.image_destroy(p1, image['id'])


def test_protected_image_cannot_be_destroyed(db, p1):
    image = make(db, p1, protected=True)
    with pytest.raises(exceptions.ImageProtected, match=image['id']):
        db.image_destroy(p1, image['id'])


def test_delayed_destroy_and_restore(db, p1, p2, admin):
    image = make(db, p1, visibility='shared', properties={'a': '1'}, tags=['t'],
                 locations=[{'url': 'file:///1'}])
    member = db.image_member_create(p1, {'image_id': image['id'], 'member': 'p2'})
    old = db.image_member_create(p1, {'image_id': image['id'], 'member': 'p3'})
    db.image_member_delete(p1, old['id'])
    gone = db.image_destroy(p1, image['id'], delayed=True)
    assert gone['status'] == 'pending_delete' and gone['deleted']
    assert db.image_get(admin, image['id'])['status'] == 'pending_delete'
    assert db.image_get(p1, image['id'], force_show_deleted=True)['status'] == 'pending_delete'
    assert count_rows(db, 'locations', status='pending_delete') == 1

    back = db.image_restore(p1, image['id'])
    assert back['status'] == 'active' and not back['deleted']
    assert back['properties'] == {'a': '1'} and back['tags'] == ['t']
    assert [loc['url'] for loc in back['locations']] == ['file:///1']
    found = db.image_member_find(p1, image_id=image['id'])
    assert [m['id'] for m in found] == [member['id']]      # p3 stays removed
    with pytest.raises(exceptions.Conflict, match='active'):
        db.image_restore(p1, image['id'])


def test_property_create_and_delete(db, p1):
    image = make(db, p1)
    db.image_property_create(p1, {'image_id': image['id'], 'name': 'k', 'value': 'v'})
    db.image_property_create(p1, {'image_id': image['id'], 'name': 'k', 'value': 'w'})
    assert db.image_get(p1, image['id'])['properties'] == {'k': 'w'}
    db.image_property_delete(p1, 'k', image['id'])
    assert db.image_get(p1, image['id'])['properties'] == {}
    with pytest.raises(exceptions.NotFound, match="'k'"):
        db.image_property_delete(p1, 'k', image['id'])


def test_tags_api(db, p1, p2):
    image = make(db, p1, visibility='public')
    db.image_tag_set_all(p1, image['id'], ['a', 'b', 'a'])
    assert db.image_tag_get_all(p2, image['id']) == ['a', 'b']
    db.image_tag_create(p1, image['id'], 'c')
    db.image_tag_create(p1, image['id'], 'c')
    db.image_tag_delete(p1, image['id'], 'a')
    assert db.image_tag_get_all(p1, image['id']) == ['b', 'c']
    with pytest.raises(exceptions.NotFound, match="'a'"):
        db.image_tag_delete(p1, image['id'], 'a')
    with pytest.raises(exceptions.Forbidden):
        db.image_tag_create(p2, image['id'], 'x')


def test_mutability(db, p1, p2, admin):
    image = make(db, p1)
    assert db.is_image_mutable(p1, image)
    assert not db.is_image_mutable(p2, image)
    assert db.is_image_mutable(admin, image)


def test_only_admin_gives_an_image_away(db, p1, admin):
    image = make(db, p1)
    with pytest.raises(exceptions.Forbidden, match='p2'):
        db.image_update(p1, image['id'], {'owner': 'p2'})
    assert db.image_update(admin, image['id'], {'owner': 'p2'})['owner'] == 'p2'


def test_anonymous_caller_cannot_create(db):
    from store_kit.context import RequestContext
    with pytest.raises(exceptions.Forbidden, match='None'):
        make(db, RequestContext(None))
