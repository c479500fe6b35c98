"""Usage for quotas, with glance's meanings: storage, staging, image count,
uploading count."""

import pytest

from store_kit import exceptions
from store_kit.context import RequestContext

OWNERS = ('o1', 'o2')
STATUSES = ('queued', 'active', 'uploading', 'importing', 'deleted')


@pytest.fixture
def fleet(db):
    """glance's TestImageStorageUsage set-up: per owner two images of each
    status, sized 100 x the status' index; the active ones get a location
    (active for the first, deleted for the second) and the copying property
    (non-empty for the first, empty for the second)."""
    made = {}
    for owner in OWNERS:
        ctx = RequestContext(owner)
        for status in STATUSES:
            for num in range(2):
                image = db.image_create(ctx, {'status': status, 'owner': owner,
                                              'size': STATUSES.index(status) * 100,
                                              'name': 'test-%s-%d' % (status, num)})
                made[owner, status, num] = image['id']
                if status == 'active':
                    loc = db.image_location_add(ctx, image['id'], {
                        'url': 'foo://bar/%s/%d' % (owner, num), 'metadata': {}})
                    if num:
                        db.image_location_delete(ctx, image['id'], loc['id'], 'deleted')
                    db.image_set_property_atomic(ctx, image['id'],
                                                 'os_glance_importing_to_stores',
                                                 'fakestore' if num == 0 else '')
    return made


@pytest.mark.parametrize('owner', OWNERS)
def test_glance_meanings(db, fleet, owner):
    ctx = RequestContext(owner)
    # two active images of 100, only one with a location not deleted
    assert db.user_get_storage_usage(ctx, owner) == 100
    # two uploading of 200, two importing of 300, one active copying of 100
    assert db.user_get_staging_usage(ctx, owner) == 1100
    # queued, active, uploading, importing: two each
    assert db.user_get_image_count(ctx, owner) == 8
    # two uploading, two importing, one copying
    assert db.user_get_uploading_count(ctx, owner) == 5


def test_soft_deleted_images_and_deleted_properties_do_not_count(db, fleet, p1):
    ctx = RequestContext('o1')
    copying = fleet['o1', 'active', 0]
    db.image_delete_property_atomic(ctx, copying, 'os_glance_importing_to_stores',
                                    'fakestore')
    assert db.user_get_staging_usage(ctx, 'o1') == 1000
    assert db.user_get_uploading_count(ctx, 'o1') == 4
    db.image_destroy(ctx, copying, delayed=True)      # its location: pending_delete
    assert db.user_get_storage_usage(ctx, 'o1') == 0
    assert db.user_get_image_count(ctx, 'o1') == 7
    db.image_destroy(ctx, fleet['o1', 'uploading', 0])
    assert db.user_get_staging_usage(ctx, 'o1') == 800
    assert db.user_get_uploading_count(ctx, 'o1') == 3


def test_each_location_counts_and_image_id_is_left_out(db):
    ctx = RequestContext('o1')
    two = db.image_create(ctx, {'size': 53, 'status': 'active', 'locations': [
        {'url': 'file:///a'}, {'url': 'file:///b'}]})
    one = db.image_create(ctx, {'size': 7, 'locations': [{'url': 'file:///c'}]})
    db.image_create(ctx, {'size': 0, 'locations': [{'url': 'file:///d'}]})
    db.image_create(ctx, {'size': 1000, 'status': 'killed',
                          'locations': [{'url': 'file:///e'}]})
    assert db.user_get_storage_usage(ctx, 'o1') == 113
    assert db.user_get_storage_usage(ctx, 'o1', image_id=one['id']) == 106
    assert db.user_get_storage_usage(ctx, 'o1', image_id=two['id']) == 7


def test_unknown_or_invisible_image_id_is_not_found_never_zero(db, p2):
    ctx = RequestContext('o1')
    db.image_create(ctx, {'size': 7, 'locations': [{'url': 'file:///c'}]})
    hidden = db.image_create(p2, {'visibility': 'private'})['id']
    for image_id in ('no-such-image', hidden, 'x' * 40):
        with pytest.raises(exceptions.ImageNotFound):
            db.user_get_storage_usage(ctx, 'o1', image_id=image_id)


@pytest.mark.parametrize('method', ['user_get_storage_usage', 'user_get_staging_usage',
                                    'user_get_image_count', 'user_get_uploading_count'])
def test_rights_and_empty_owners(db, fleet, method, admin, p2):
    with pytest.raises(exceptions.Forbidden, match='o1'):
        getattr(db, method)(p2, 'o1')
    assert getattr(db, method)(admin, 'nobody') == 0
    assert getattr(db, method)(admin, 'o1') == getattr(db, method)(RequestContext('o1'), 'o1')
    with pytest.raises(exceptions.Invalid, match='owner'):
        getattr(db, method)(admin, None)


@pytest.mark.parametrize('project', ['O1', 'o1 ', 'ó1'])
def test_a_project_named_like_the_owner_may_not_read_its_usage(db, fleet, project):
    with pytest.raises(exceptions.Forbidden):
        db.user_get_storage_usage(RequestContext(project), 'o1')
    assert db.user_get_image_count(RequestContext(project), project) == 0
