"""Visibility: the one predicate, in SQL (listing) and in Python (by id)."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from store_kit import exceptions
from store_kit.context import RequestContext
from tests.catalog.helpers import clean

#: names that differ only by case, accent or a trailing space: every engine
#: must tell them apart (MariaDB's default collation did not)
PROJECTS = ('alice', 'ALICE', 'alice ', 'alicé', 'bob')


def make(db, ctx, visibility, **kw):
    kw.setdefault('name', visibility)
    return db.image_create(ctx, dict(visibility=visibility, **kw))


@pytest.fixture
def world(db, p1):
    """One image of each visibility owned by p1; p2 accepted on 'shared'."""
    images = {v: make(db, p1, v) for v in ('private', 'shared', 'public', 'community')}
    pending = make(db, p1, 'shared', name='pending')
    m = db.image_member_create(p1, {'image_id': images['shared']['id'], 'member': 'p2'})
    db.image_member_update(RequestContext('p2'), m['id'], {'status': 'accepted'})
    db.image_member_create(p1, {'image_id': pending['id'], 'member': 'p2'})
    images['pending'] = pending
    return images


def names(rows):
    return sorted(r['name'] for r in rows)


def test_get_by_id(db, world, p1, p2, p3, admin):
    for key, image in world.items():
        assert db.image_get(p1, image['id'])['id'] == image['id']
        assert db.image_get(admin, image['id'])['id'] == image['id']
    for key in ('shared', 'public', 'community', 'pending'):
        assert db.image_get(p2, world[key]['id'])
    for key in ('private', 'shared', 'pending'):
        with pytest.raises(exceptions.ImageNotFound, match=world[key]['id']):
            db.image_get(p3, world[key]['id'])
    with pytest.raises(exceptions.ImageNotFound):
        db.image_get(p2, world['private']['id'])


def test_hidden_image_error_equals_missing_image_error(db, world, p3):
    hidden = world['private']['id']
    missing = hidden[:-1] + ('0' if hidden[-1] != '0' else '1')
    errors = []
    for image_id in (hidden, missing):
        with pytest.raises(exceptions.ImageNotFound) as info:
            db.image_get(p3, image_id)
        errors.append(str(info.value).replace(image_id, 'ID'))
    assert errors[0] == errors[1]


def test_listing_rules(db, world, p1, p2, p3, admin):
    assert names(db.image_get_all(p1)) == [
        'community', 'pending', 'private', 'public', 'shared']
    assert names(db.image_get_all(p2)) == ['public', 'shared']
    assert names(db.image_get_all(p2, member_status='pending')) == ['pending', 'public']
    assert names(db.image_get_all(p2, member_status='all')) == ['pending', 'public', 'shared']
    assert names(db.image_get_all(p3)) == ['public']
    assert names(db.image_get_all(p3, filters={'visibility': 'community'})) == ['community']
    assert names(db.image_get_all(p2, filters={'visibility': 'shared'})) == ['shared']
    assert names(db.image_get_all(p2, filters={'visibility': 'private'})) == []
    assert len(db.image_get_all(admin)) == 5
    assert names(db.image_get_all(admin, admin_as_user=True)) == ['public']
    assert names(db.image_get_all(p2, is_public=True)) == ['public']
    assert names(db.image_get_all(p1, is_public=False)) == [
        'community', 'pending', 'private', 'shared']


def test_is_image_visible_with_member_status(db, world, p2):
    assert db.is_image_visible(p2, world['pending'])
    assert not db.is_image_visible(p2, world['pending'], status='accepted')
    assert db.is_image_visible(p2, world['shared'], status='accepted')
    assert not db.is_image_visible(p2, world['private'])


def test_bad_list_arguments_are_named(db, p1):
    with pytest.raises(exceptions.Invalid, match='everyone'):
        db.image_get_all(p1, filters={'visibility': 'everyone'})
    with pytest.raises(exceptions.Invalid, match='maybe'):
        db.image_get_all(p1, member_status='maybe')


image_st = st.fixed_dictionaries({
    'owner': st.sampled_from(PROJECTS),
    'visibility': st.sampled_from(('private', 'shared', 'public', 'community')),
    'members': st.dictionaries(st.sampled_from(PROJECTS),
                               st.sampled_from(('pending', 'accepted', 'rejected'))),
})
caller_st = st.tuples(st.sampled_from(PROJECTS + (None,)), st.booleans(), st.booleans())
list_args_st = st.tuples(
    st.sampled_from((None, 'all', 'public', 'private', 'shared', 'community')),
    st.sampled_from(('accepted', 'pending', 'rejected', 'all')))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(image_st, min_size=1, max_size=6), caller=caller_st,
       list_args=list_args_st)
def test_list_and_get_agree(db, specs, caller, list_args):
    """Listing (SQL) and is_image_visible/image_get (Python) apply one rule."""
    clean(db)
    admin = RequestContext('admin', is_admin=True)
    created = []
    for spec in specs:
        image = db.image_create(admin, {'owner': spec['owner'], 'visibility': 'shared'})
        for member, status in spec['members'].items():
            m = db.image_member_create(admin, {'image_id': image['id'], 'member': member})
            db.image_member_update(admin, m['id'], {'status': status})
        created.append(db.image_update(admin, image['id'],
                                       {'visibility': spec['visibility']}))
    owner, is_admin, as_user = caller
    ctx = RequestContext(owner, is_admin=is_admin)
    effective_admin = is_admin and not as_user

    # by id: image_get succeeds exactly when is_image_visible says so, and the
    # widest listing (visibility=all, member_status=all) lists the same set
    gettable = set()
    for image in created:
        visible = db.is_image_visible(ctx, image)
        try:
            db.image_get(ctx, image['id'])
            got = True
        except exceptions.ImageNotFound:
            got = False
        assert got == visible
        if visible:
            gettable.add(image['id'])
    widest = {r['id'] for r in db.image_get_all(
        ctx, filters={'visibility': 'all'}, member_status='all')}
    assert widest == gettable

    # every listing mode: SQL agrees with the rule evaluated in Python
    wanted, member_status = list_args
    filters = {'visibility': wanted} if wanted else {}
    listed = {r['id'] for r in db.image_get_all(ctx, filters=filters,
                                                member_status=member_status,
                                                admin_as_user=as_user)}
    expected = set()
    for image, spec in zip(created, specs):
        if effective_admin:
            ok = wanted in (None, 'all') or spec['visibility'] == wanted
        else:
            status = spec['members'].get(owner) if owner else None
            member_ok = status is not None and member_status in ('all', status)
            owned = owner is not None and spec['owner'] == owner
            vis = spec['visibility']
            ok = {
                None: owned or vis == 'public' or (vis == 'shared' and member_ok),
                'all': owned or vis in ('public', 'community')
                or (vis == 'shared' and member_ok),
                'public': vis == 'public',
                'community': vis == 'community',
                'shared': vis == 'shared' and (owned or member_ok),
                'private': vis == 'private' and owned,
            }[wanted]
        if ok:
            expected.add(image['id'])
    assert listed == expected
