"""Members: one record per pair, revival, permissions, races."""

import pytest

from store_kit import exceptions
from store_kit.context import RequestContext
from tests.catalog import concurrency, workers
from tests.catalog.helpers import count_rows


@pytest.fixture
def shared(db, p1):
    return db.image_create(p1, {'name': 's', 'visibility': 'shared'})


def add(db, ctx, image, member, **kw):
    return db.image_member_create(ctx, dict(image_id=image['id'], member=member, **kw))


def test_create_find_count(db, p1, p2, p3, shared):
    m = add(db, p1, shared, 'p2')
    assert (m['member'], m['status'], m['can_share'], m['deleted']) == (
        'p2', 'pending', False, False)
    add(db, p1, shared, 'p3', status='accepted', can_share=True)
    assert db.image_member_count(p1, shared['id']) == 2
    assert [x['member'] for x in db.image_member_find(p1, image_id=shared['id'])] == ['p2', 'p3']
    assert [x['member'] for x in db.image_member_find(p2)] == ['p2']
    assert [x['member'] for x in db.image_member_find(p1, status='accepted')] == ['p3']
    assert db.image_member_find(RequestContext('p9'), image_id=shared['id']) == []


def test_live_duplicate_is_refused(db, p1, shared):
    add(db, p1, shared, 'p2')
    with pytest.raises(exceptions.Duplicate, match='p2'):
        add(db, p1, shared, 'p2')


def test_recreate_revives_the_same_record(db, p1, p2, shared):
    m = add(db, p1, shared, 'p2')
    db.image_member_update(p2, m['id'], {'status': 'accepted'})
    db.image_member_delete(p1, m['id'])
    assert db.image_member_find(p1, image_id=shared['id']) == []
    [gone] = db.image_member_find(p1, image_id=shared['id'], include_deleted=True)
    assert gone['deleted'] and gone['deleted_at']
    again = add(db, p1, shared, 'p2')
    assert again['id'] == m['id']
    assert again['status'] == 'pending' and not again['deleted'] and again['deleted_at'] is None
    assert again['created_at'] > m['created_at']
    assert count_rows(db, 'members') == 1


def test_only_owner_adds_and_removes_only_on_shared(db, p1, p2, p3, admin, shared):
    with pytest.raises(exceptions.ImageNotFound, match=shared['id']):
        add(db, p3, shared, 'p3')           # not a member: cannot even see it
    m = add(db, admin, shared, 'p2')
    with pytest.raises(exceptions.Forbidden, match=shared['id']):
        add(db, p2, shared, 'p3')           # a member, but not the owner
    public = db.image_create(p1, {'visibility': 'public'})
    with pytest.raises(exceptions.Forbidden, match='public'):
        add(db, p1, public, 'p2')
    with pytest.raises(exceptions.Forbidden):
        db.image_member_delete(p2, m['id'])
    db.image_member_delete(admin, m['id'])
    with pytest.raises(exceptions.MemberNotFound, match=str(m['id'])):
        db.image_member_delete(p1, m['id'])


def test_only_member_sets_status(db, p1, p2, p3, admin, shared):
    m = add(db, p1, shared, 'p2')
    with pytest.raises(exceptions.Forbidden, match='p2'):
        db.image_member_update(p1, m['id'], {'status': 'accepted'})
    with pytest.raises(exceptions.MemberNotFound):
        db.image_member_update(p3, m['id'], {'status': 'accepted'})
    assert db.image_member_update(p2, m['id'], {'status': 'rejected'})['status'] == 'rejected'
    assert db.image_member_update(admin, m['id'], {'status': 'accepted'})['status'] == 'accepted'
    with pytest.raises(exceptions.Invalid, match='maybe'):
        db.image_member_update(p2, m['id'], {'status': 'maybe'})
    with pytest.raises(exceptions.Invalid, match='colour'):
        db.image_member_update(p2, m['id'], {'colour': 'red'})
    with pytest.raises(exceptions.Forbidden):
        db.image_member_update(p2, m['id'], {'can_share': True})
    assert db.image_member_update(p1, m['id'], {'can_share': True})['can_share'] is True


def test_members_of_invisible_image(db, p1, p3):
    private = db.image_create(p1, {'visibility': 'private'})
    with pytest.raises(exceptions.ImageNotFound, match=private['id']):
        db.image_member_count(p3, private['id'])
    with pytest.raises(exceptions.ImageNotFound, match=private['id']):
        add(db, p3, private, 'p3')


@pytest.mark.parametrize('revive', [False, True])
def test_eight_threads_create_the_same_member(db, p1, shared, revive):
    if revive:
        db.image_member_delete(p1, add(db, p1, shared, 'p2')['id'])
    outcomes = concurrency.in_threads([lambda: add(db, p1, shared, 'p2')] * concurrency.N)
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ['Duplicate'] * (concurrency.N - 1) + ['ok'], outcomes
    assert count_rows(db, 'members') == 1
    assert db.image_member_count(p1, shared['id']) == 1


def test_eight_processes_create_the_same_member(db, p1, shared):
    results = concurrency.in_processes(workers.create_member, (db.url, shared['id'], 'p2'))
    assert sorted(results) == ['duplicate'] * (concurrency.N - 1) + ['ok'], results
    assert count_rows(db, 'members') == 1


def test_anonymous_caller_finds_no_members(db, admin):
    image = db.image_create(admin, {'owner': None, 'visibility': 'shared'})
    db.image_member_create(admin, {'image_id': image['id'], 'member': 'p2'})
    assert db.image_member_find(RequestContext(None)) == []
    assert len(db.image_member_find(admin)) == 1
