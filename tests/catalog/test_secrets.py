"""Secrets in location URLs (userinfo, query string) reach admins only.

Every Catalog method that returns locations redacts them for non-admin
callers; an owner who sends back what it read changes nothing, and a
redacted URL is never stored as a new one.
"""

import logging

import pytest

from store_kit import exceptions
from store_kit.context import RequestContext
from tests.catalog.helpers import count_rows

SECRETS = ('hunter2', 'sig-s3cr3t', 'AKIAEXAMPLE', 'SeCrEtKeY', 'tok-9f8e')
URLS = (
    'http://user:hunter2@web.example/images/a?sig=sig-s3cr3t',
    'https://cdn.example/b?X-Amz-Credential=AKIAEXAMPLE&sig=sig-s3cr3t',
    's3://AKIAEXAMPLE:SeCrEtKeY@s3.example/bucket/c',
    'http://tok-9f8e@mirror.example/d',
)
PLAIN = 'file:///data/plain/e'

OWNER = RequestContext('alice')
MEMBER = RequestContext('bob')
VIEWER = RequestContext('carol')
ADMIN = RequestContext('admin', is_admin=True)


def leaks(value):
    text = repr(value)
    return [s for s in SECRETS if s in text]


def locations(values):
    return [{'url': u, 'metadata': {'n': i}} for i, u in enumerate(values)]


@pytest.fixture
def images(db):
    shared = db.image_create(OWNER, {'name': 'shared', 'visibility': 'shared',
                                     'status': 'active',
                                     'locations': locations(URLS[:2])})
    public = db.image_create(OWNER, {'name': 'public', 'visibility': 'public',
                                     'status': 'active',
                                     'locations': locations(URLS[2:] + (PLAIN,))})
    m = db.image_member_create(OWNER, {'image_id': shared['id'], 'member': 'bob'})
    db.image_member_update(MEMBER, m['id'], {'status': 'accepted'})
    return shared, public


def raw_urls(db, image_id):
    return sorted(loc['url'] for loc in db.image_get(ADMIN, image_id)['locations'])


def test_creating_returns_redacted_locations(db):
    image = db.image_create(OWNER, {'name': 'x', 'locations': locations(URLS)})
    assert leaks(image) == []
    assert [loc['url'] for loc in image['locations']] == [
        'http://***@web.example/images/a?...', 'https://cdn.example/b?...',
        's3://***@s3.example/bucket/c', 'http://***@mirror.example/d']
    assert raw_urls(db, image['id']) == sorted(URLS)


@pytest.mark.parametrize('who', [OWNER, MEMBER, VIEWER], ids=['owner', 'member', 'viewer'])
def test_reads_redact_for_every_non_admin(db, images, who):
    shared, public = images
    visible = [public] + ([shared] if who is not VIEWER else [])
    for image in visible:
        got = db.image_get(who, image['id'])
        assert got['locations'] and leaks(got) == []
    listed = db.image_get_all(who, member_status='all', filters={'visibility': 'all'})
    assert len(listed) == len(visible)
    assert leaks(listed) == []


def test_admin_reads_the_real_urls(db, images):
    shared, public = images
    assert raw_urls(db, shared['id']) == sorted(URLS[:2])
    assert leaks(db.image_get_all(ADMIN)) != []


def test_owner_writes_return_redacted_locations(db, images):
    shared, public = images
    assert leaks(db.image_update(OWNER, shared['id'], {'name': 'renamed'})) == []
    loc = db.image_location_add(OWNER, shared['id'],
                                {'url': 'http://u:tok-9f8e@other.example/z', 'metadata': {}})
    assert leaks(loc) == [] and loc['url'] == 'http://***@other.example/z'
    loc = db.image_location_update(OWNER, shared['id'], {'id': loc['id'],
                                                         'metadata': {'k': 'v'}})
    assert leaks(loc) == []
    assert leaks(db.image_destroy(OWNER, public['id'], delayed=True)) == []
    restored = db.image_restore(OWNER, public['id'])
    assert restored['locations'] and leaks(restored) == []
    assert raw_urls(db, public['id']) == sorted(URLS[2:] + (PLAIN,))


def test_sending_back_what_was_read_changes_nothing(db, images):
    shared, public = images
    before = db.image_get(ADMIN, public['id'])['locations']
    seen = db.image_get(OWNER, public['id'])['locations']
    # with ids, as read
    db.image_update(OWNER, public['id'], {'locations': seen})
    # without ids: matched by the (redacted) url
    db.image_update(OWNER, public['id'], {'locations': [
        {'url': loc['url'], 'metadata': dict(loc['metadata'], again=True)} for loc in seen]})
    after = db.image_get(ADMIN, public['id'])['locations']
    assert [(loc['id'], loc['url']) for loc in after] == \
        [(loc['id'], loc['url']) for loc in before]
    assert all(loc['metadata']['again'] for loc in after)
    for loc in seen:
        db.image_location_update(OWNER, public['id'], {'id': loc['id'], 'url': loc['url']})
    assert db.image_get(ADMIN, public['id'])['locations'] == after
    assert count_rows(db, 'locations', image_id=public['id']) == len(before)


def test_dropping_one_redacted_location_keeps_the_others(db, images):
    shared, public = images
    seen = db.image_get(OWNER, public['id'])['locations']
    db.image_update(OWNER, public['id'], {'locations': [
        {'url': loc['url'], 'metadata': loc['metadata']} for loc in seen[1:]]})
    assert raw_urls(db, public['id']) == sorted(URLS[3:] + (PLAIN,))


@pytest.mark.parametrize('url', ['http://***@web.example/images/new',
                                 'https://cdn.example/new?...',
                                 's3://***@s3.example/bucket/new'])
def test_a_redacted_url_is_never_stored(db, images, url):
    shared, public = images
    for ctx in (OWNER, ADMIN):
        with pytest.raises(exceptions.Invalid, match='redacted'):
            db.image_location_add(ctx, shared['id'], {'url': url, 'metadata': {}})
        with pytest.raises(exceptions.Invalid, match='redacted'):
            db.image_update(ctx, shared['id'], {'locations': [{'url': url}]})
        with pytest.raises(exceptions.Invalid, match='redacted'):
            db.image_create(ctx, {'owner': 'alice', 'locations': [{'url': url}]})
        loc_id = db.image_get(ctx, shared['id'])['locations'][0]['id']
        with pytest.raises(exceptions.Invalid, match='redacted'):
            db.image_location_update(ctx, shared['id'], {'id': loc_id, 'url': url})
    assert raw_urls(db, shared['id']) == sorted(URLS[:2])


def test_a_redacted_url_of_another_location_does_not_match(db, images):
    """The redacted form names a location of this image only."""
    shared, public = images
    theirs = db.image_get(OWNER, shared['id'])['locations'][0]['url']
    with pytest.raises(exceptions.Invalid, match='redacted'):
        db.image_update(OWNER, public['id'], {'locations': [{'url': theirs}]})
    assert raw_urls(db, public['id']) == sorted(URLS[2:] + (PLAIN,))


def test_read_locations_gives_the_data_path_real_urls_after_the_visibility_check(db, images):
    shared, public = images
    image, locs = db.read_locations(MEMBER, shared['id'])
    assert leaks(image) == []
    assert sorted(loc['url'] for loc in locs) == sorted(URLS[:2])
    assert [loc['id'] for loc in locs] == [loc['id'] for loc in image['locations']]
    with pytest.raises(exceptions.ImageNotFound):
        db.read_locations(VIEWER, shared['id'])


def test_no_secret_reaches_a_log_line_even_with_sql_logging_on(db, caplog):
    """An operator debugging turns SQLAlchemy's statement log on: neither
    the statements' parameters nor the rows logged at DEBUG (location URLs)
    may show a secret."""
    caplog.set_level(logging.DEBUG, logger='sqlalchemy.engine')
    image = db.image_create(ADMIN, {'owner': 'alice', 'locations': locations(URLS)})
    db.image_get(OWNER, image['id'])
    db.image_update(OWNER, image['id'], {'locations': locations(URLS[:1])})
    with pytest.raises(exceptions.Duplicate):
        db.image_create(ADMIN, {'id': image['id'], 'name': 'hunter2'})
    text = caplog.text + ' '.join(repr(r.args) for r in caplog.records)
    assert 'INSERT INTO locations' in text and 'Row (' in text      # it was logging
    assert [s for s in SECRETS if s in text] == []
