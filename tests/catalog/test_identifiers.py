"""Identifiers compare exactly on every engine: image ids, owners, members.

MariaDB's default collation (utf8mb4_general_ci) folds case and accents and
ignores trailing spaces; the catalog's id, owner and member columns use a
binary NO PAD collation there, so ``ALICE`` never sees ``alice``'s images.
"""

import pytest

from store_kit import exceptions
from store_kit.context import RequestContext

#: spellings that a case-, accent- or pad-insensitive comparison confuses
ALICE = 'alice-proj'
ALIASES = ('ALICE-PROJ', 'Alice-Proj', 'alice-proj ', 'alicé-proj', 'alice\u0301-proj',
           'alice-proj\u00a0')
BOB = 'bob'
BOB_ALIASES = ('BOB', 'Bob', 'bob ', 'böb', 'bób')


@pytest.fixture
def alice():
    return RequestContext(ALICE)


def test_an_owner_alias_sees_nothing_of_the_owner(db, alice):
    private = db.image_create(alice, {'name': 'mine', 'visibility': 'private'})
    shared = db.image_create(alice, {'name': 'ours', 'visibility': 'shared'})
    for alias in ALIASES:
        ctx = RequestContext(alias)
        assert db.image_get_all(ctx) == [], alias
        assert db.image_get_all(ctx, filters={'visibility': 'all'},
                                member_status='all') == [], alias
        assert db.image_get_all(ctx, filters={'owner': alias}) == [], alias
        for image in (private, shared):
            with pytest.raises(exceptions.ImageNotFound):
                db.image_get(ctx, image['id'])
            assert not db.is_image_visible(ctx, image)
            assert not db.is_image_mutable(ctx, image)
            with pytest.raises(exceptions.NotFound):
                db.image_update(ctx, image['id'], {'name': 'taken'})
            with pytest.raises(exceptions.NotFound):
                db.image_destroy(ctx, image['id'])
        with pytest.raises(exceptions.Forbidden):
            db.user_get_storage_usage(ctx, ALICE)
    assert db.image_get(alice, private['id'])['name'] == 'mine'


def test_a_member_alias_is_not_the_member(db, alice):
    image = db.image_create(alice, {'name': 'for-bob', 'visibility': 'shared'})
    record = db.image_member_create(alice, {'image_id': image['id'], 'member': BOB,
                                            'status': 'accepted'})
    assert [i['id'] for i in db.image_get_all(RequestContext(BOB))] == [image['id']]
    for alias in BOB_ALIASES:
        ctx = RequestContext(alias)
        assert db.image_get_all(ctx, member_status='all') == [], alias
        with pytest.raises(exceptions.ImageNotFound):
            db.image_get(ctx, image['id'])
        assert db.image_member_find(ctx) == [], alias
        assert db.image_member_find(ctx, member=BOB) == [], alias
        with pytest.raises(exceptions.MemberNotFound):
            db.image_member_update(ctx, record['id'], {'status': 'rejected'})
    assert db.image_member_find(alice, member='BOB') == []


def test_members_differing_only_in_spelling_are_distinct(db, alice):
    image = db.image_create(alice, {'name': 's', 'visibility': 'shared'})
    for member in (BOB,) + BOB_ALIASES:
        db.image_member_create(alice, {'image_id': image['id'], 'member': member})
    found = db.image_member_find(alice, image_id=image['id'])
    assert sorted(m['member'] for m in found) == sorted((BOB,) + BOB_ALIASES)
    assert db.image_member_count(alice, image['id']) == 1 + len(BOB_ALIASES)
    assert [m['member'] for m in db.image_member_find(alice, member='Bob')] == ['Bob']


def test_image_ids_compare_exactly(db, alice, admin):
    image = db.image_create(alice, {'name': 'x', 'visibility': 'private'})
    for alias in (image['id'].upper(), image['id'] + ' '):
        with pytest.raises(exceptions.ImageNotFound):
            db.image_get(alice, alias)
        with pytest.raises(exceptions.ImageNotFound):
            db.image_get(admin, alias)
        assert db.image_get_all(admin, filters={'id': alias}) == []
    for ident in ('img-a', 'IMG-A', 'img-á', 'img-a '):
        db.image_create(admin, {'id': ident, 'owner': ALICE, 'name': ident})
    for ident in ('img-a', 'IMG-A', 'img-á', 'img-a '):
        assert db.image_get(alice, ident)['name'] == ident


def test_owner_filter_is_exact(db, admin):
    for owner in (ALICE,) + ALIASES:
        db.image_create(admin, {'owner': owner, 'name': owner})
    for owner in (ALICE,) + ALIASES:
        assert [i['name'] for i in db.image_get_all(admin, filters={'owner': owner})] \
            == [owner]


def test_composed_and_decomposed_accents_are_different_projects(db):
    composed, decomposed = RequestContext('andré'), RequestContext('andre\u0301')
    image = db.image_create(composed, {'name': 'x', 'visibility': 'private'})
    assert db.image_get_all(decomposed) == []
    with pytest.raises(exceptions.ImageNotFound):
        db.image_get(decomposed, image['id'])
    assert [i['id'] for i in db.image_get_all(composed)] == [image['id']]
