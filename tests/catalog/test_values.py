"""Values the engines cannot all store are refused before any I/O, as
Invalid naming the field: lone surrogates and NUL in any text, integers
beyond their column, location metadata that is not JSON."""

import datetime

import pytest

from store_kit import exceptions
from store_kit.context import RequestContext
from tests.catalog.helpers import count_rows

OWNER = RequestContext('alice')
SURROGATE = 'bad\ud800'
SECRET_URL = 'http://user:pa55word@h.example/x/\udcff?sig=s1gn'


@pytest.fixture
def image(db):
    return db.image_create(OWNER, {'name': 'i', 'visibility': 'shared'})


def refused(match, call):
    with pytest.raises(exceptions.Invalid, match=match) as info:
        call()
    message = str(info.value)
    message.encode('utf-8')                 # printable, loggable
    assert 'pa55word' not in message and 's1gn' not in message
    return message


CASES = {
    'image name': lambda db, i: db.image_create(OWNER, {'name': SURROGATE}),
    'image disk_format': lambda db, i: db.image_update(OWNER, i, {'disk_format': 'r\x00w'}),
    'image owner': lambda db, i: db.image_create(RequestContext('a', is_admin=True),
                                                 {'owner': SURROGATE}),
    'image id': lambda db, i: db.image_get(OWNER, SURROGATE),
    'marker': lambda db, i: db.image_get_all(OWNER, marker=SURROGATE),
    'project': lambda db, i: db.image_get_all(RequestContext(SURROGATE)),
    'property name': lambda db, i: db.image_update(OWNER, i, {'properties': {SURROGATE: 'v'}}),
    "property 'k' value": lambda db, i: db.image_property_create(
        OWNER, {'image_id': i, 'name': 'k', 'value': SURROGATE}),
    'tag': lambda db, i: db.image_tag_create(OWNER, i, SURROGATE),
    'member': lambda db, i: db.image_member_create(OWNER, {'image_id': i,
                                                           'member': SURROGATE}),
    'location url': lambda db, i: db.image_location_add(OWNER, i, {'url': SECRET_URL}),
    'filter name': lambda db, i: db.image_get_all(OWNER, filters={'name': SURROGATE}),
    'filter tag': lambda db, i: db.image_get_all(OWNER, filters={'tags': [SURROGATE]}),
    'target image id': lambda db, i: db.set_hard_dependencies(OWNER, i, [SURROGATE]),
    'image size': lambda db, i: db.image_update(OWNER, i, {'size': 2 ** 63}),
    'image virtual_size': lambda db, i: db.image_create(OWNER, {'virtual_size': 2 ** 64}),
    'image min_ram': lambda db, i: db.image_update(OWNER, i, {'min_ram': 2 ** 31}),
    'image min_disk': lambda db, i: db.image_create(OWNER, {'min_disk': -1}),
    'filter size_min': lambda db, i: db.image_get_all(OWNER, filters={'size_min': 2 ** 63}),
    'limit': lambda db, i: db.image_get_all(OWNER, limit=2 ** 64),
    'member record id': lambda db, i: db.image_member_delete(OWNER, 2 ** 63),
    'location id': lambda db, i: db.image_location_delete(OWNER, i, 2 ** 40, 'deleted'),
    'location metadata': lambda db, i: db.image_location_add(
        OWNER, i, {'url': 'file:///d/x', 'metadata': {'k': object()}}),
    'location metadata is not JSON: Out of range': lambda db, i: db.image_location_add(
        OWNER, i, {'url': 'file:///d/x', 'metadata': {'k': float('nan')}}),
    'location metadata string': lambda db, i: db.image_update(
        OWNER, i, {'locations': [{'url': 'file:///d/x', 'metadata': {'k': SURROGATE}}]}),
    'location metadata string .k.x00. holds a NUL': lambda db, i: db.image_location_add(
        OWNER, i, {'url': 'file:///d/x', 'metadata': {'k\x00': 1}}),
    'image created_at': lambda db, i: db.image_create(
        OWNER, {'created_at': datetime.datetime(1, 1, 1)}),
    'delete_time': lambda db, i: db.image_location_delete(OWNER, i, 1, 'deleted',
                                                          delete_time='yesterday'),
}


@pytest.mark.parametrize('field', sorted(CASES))
def test_unstorable_values_are_invalid_naming_the_field(db, image, field):
    refused(field, lambda: CASES[field](db, image['id']))
    assert count_rows(db, 'images') == 1
    assert count_rows(db, 'locations') == count_rows(db, 'properties') == 0
    assert count_rows(db, 'tags') == count_rows(db, 'members') == 0


def test_the_message_of_a_bad_url_is_redacted(db, image):
    message = refused('location url', lambda: db.image_location_add(
        OWNER, image['id'], {'url': SECRET_URL}))
    assert '***' in message


def test_edge_values_that_fit_are_stored_alike_on_every_engine(db, image):
    admin = RequestContext('a', is_admin=True)
    text = 'é\u0301\U0001f4a5 \u202e' + 'x' * 200
    got = db.image_create(admin, {
        'name': text, 'owner': 'o' * 255, 'size': 2 ** 63 - 1, 'virtual_size': 0,
        'min_ram': 2 ** 31 - 1, 'min_disk': 2 ** 31 - 1,
        'properties': {'p' * 255: 'v' * 255, 'n': 12, 'b': True},
        'tags': ['t' * 255],
        'locations': [{'url': 'file:///d/' + text, 'metadata': {'k': [1, 2.5, None, text]}}]})
    again = db.image_get(admin, got['id'])
    assert again['name'] == text and again['size'] == 2 ** 63 - 1
    assert again['min_ram'] == 2 ** 31 - 1
    assert again['properties'] == {'p' * 255: 'v' * 255, 'n': '12', 'b': 'True'}
    assert again['locations'][0]['metadata'] == {'k': [1, 2.5, None, text]}
    assert db.image_get_all(admin, filters={'size_min': 2 ** 63 - 1})[0]['id'] == got['id']


def test_a_failed_delete_records_any_error_text(db, image):
    admin = RequestContext('a', is_admin=True)
    loc = db.image_location_add(admin, image['id'], {'url': 'file:///d/x',
                                                     'status': 'pending_delete'})
    [claimed] = db.claim_pending_deletes('worker', older_than=-60)
    assert claimed['id'] == loc['id']
    assert db.fail_pending_delete(loc['id'], 'worker',
                                  OSError('gone \ud800\x00 http://u:pa55word@h/x'))


def test_the_longest_property_values_are_stored_and_filtered_on_every_engine(db, image):
    """The (name, value) index takes a 255-emoji name (1020 bytes) beside a
    1536-byte value on every engine; a signed image's img_signature fits."""
    name = '\U0001f4a5' * 255
    value = '\U0001f600' * 383 + 'abcd'                # 1536 bytes of UTF-8
    signature = 'QUJD' * 171                           # RSA-4096: 684 characters
    db.image_update(OWNER, image['id'], {'properties': {
        name: value, 'img_signature': signature, 'plain': 'x' * 1536}})
    got = db.image_get(OWNER, image['id'])['properties']
    assert got == {name: value, 'img_signature': signature, 'plain': 'x' * 1536}
    for pair in ({name: value}, {'img_signature': signature}, {'plain': 'x' * 1536}):
        listed = db.image_get_all(OWNER, filters={'properties': pair})
        assert [i['id'] for i in listed] == [image['id']]
    # the first 500 characters are all MySQL/MariaDB index: the rest still counts
    assert db.image_get_all(OWNER, filters={'properties': {'plain': 'x' * 1535 + 'y'}}) == []


@pytest.mark.parametrize('value, size', [('x' * 1537, 1537), ('\U0001f600' * 385, 1540),
                                         ('é' * 769, 1538)])
def test_a_property_value_over_1536_bytes_is_refused(db, image, value, size):
    message = refused('longer than', lambda: db.image_update(
        OWNER, image['id'], {'properties': {'p': value}}))
    assert 'property' in message and '1536' in message
    assert db.image_get(OWNER, image['id'])['properties'] == {}
