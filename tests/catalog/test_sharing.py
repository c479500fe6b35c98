"""Data is shared between images only on purpose (DESIGN, security rules).

A non-admin may not attach a location whose normalised URL another image's
non-deleted location already references, by any API that writes locations
and under any spelling of that URL; an admin may.  ``location_references``
answers "who else holds this data" for the code that deletes data.
"""

import pytest

from store_kit import exceptions
from store_kit.location import url_key

VICTIM_URL = 'file:///data/images/victim-image'
SPELLINGS = [
    VICTIM_URL,
    'file:///data/images/./victim-image',
    'file:///data//images/victim-image/',
    'FILE://localhost/data/images/victim-image',
    'filesystem:///data/images/victim-image',
    'file:///data/images/sub/../victim-image',
    'file:///data/images/%76ictim-image',
]


@pytest.fixture
def victim(db, p1):
    return db.image_create(p1, {'visibility': 'public', 'size': 4,
                                'locations': [{'url': VICTIM_URL}]})


@pytest.mark.parametrize('url', SPELLINGS)
def test_non_admin_cannot_attach_another_images_data(db, p2, victim, url):
    mine = db.image_create(p2, {'size': 4})
    with pytest.raises(exceptions.Forbidden, match=victim['id']) as err:
        db.image_location_add(p2, mine['id'], {'url': url})
    assert 'victim-image' not in str(err.value) or victim['id'] in str(err.value)
    assert db.image_get(p2, mine['id'])['locations'] == []


def test_every_location_writing_api_refuses(db, p2, victim):
    with pytest.raises(exceptions.Forbidden):
        db.image_create(p2, {'locations': [{'url': VICTIM_URL}]})
    mine = db.image_create(p2, {'locations': [{'url': 'file:///data/images/mine'}]})
    with pytest.raises(exceptions.Forbidden):
        db.image_update(p2, mine['id'], {'locations': [{'url': VICTIM_URL}]})
    loc_id = db.image_get(p2, mine['id'])['locations'][0]['id']
    with pytest.raises(exceptions.Forbidden):
        db.image_location_update(p2, mine['id'], {'id': loc_id, 'url': VICTIM_URL})
    assert [loc['url'] for loc in db.image_get(p2, mine['id'])['locations']] == [
        'file:///data/images/mine']


def test_pending_delete_locations_still_count_but_deleted_ones_do_not(db, p1, p2, victim):
    loc_id = victim['locations'][0]['id']
    db.image_location_delete(p1, victim['id'], loc_id, 'pending_delete')
    mine = db.image_create(p2, {})
    with pytest.raises(exceptions.Forbidden):
        db.image_location_add(p2, mine['id'], {'url': VICTIM_URL})
    db.image_location_update(p1, victim['id'], {'id': loc_id, 'status': 'deleted'})
    db.image_location_add(p2, mine['id'], {'url': VICTIM_URL})


def test_admin_shares_on_purpose_and_own_images_may_repeat(db, admin, p1, victim):
    # the owner's own image may carry the same URL twice (a second copy entry)
    db.image_location_add(p1, victim['id'], {'url': VICTIM_URL + '/'})
    other = db.image_create(admin, {'owner': 'p3'})
    db.image_location_add(admin, other['id'], {'url': VICTIM_URL})
    # once shared, nobody but an admin adds it again, the owner included
    with pytest.raises(exceptions.Forbidden, match=other['id']):
        db.image_location_add(p1, victim['id'], {'url': VICTIM_URL + '/.'})
    refs = db.location_references([url_key(VICTIM_URL)])
    assert sorted(r['image_id'] for r in refs) == sorted([victim['id'], victim['id'],
                                                          other['id']])


def test_location_references_and_referenced_keys(db, p1, victim):
    loc_id = victim['locations'][0]['id']
    key = url_key(SPELLINGS[3])
    assert db.location_references([key], exclude_ids=[loc_id]) == []
    assert [r['id'] for r in db.location_references([key])] == [loc_id]
    assert db.referenced_keys([key, url_key('file:///elsewhere')]) == {key}
    db.image_location_delete(p1, victim['id'], loc_id, 'deleted')
    assert db.location_references([key]) == []
    assert db.referenced_keys([key]) == set()
