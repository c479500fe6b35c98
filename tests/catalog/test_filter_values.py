"""Filter values parsed as glance's API does (operators, quoted in: lists),
and the specific Invalid subclasses of bad sort keys, directions and ranges."""

import itertools

import pytest

from store_kit import exceptions
from store_kit.catalog import filters as filtering


@pytest.fixture
def named(db, p1):
    """Five private images named after their index; returns {name: id}."""
    names = ['plain', 'a,b', 'ubuntu:22.04', 'fake\\"name', '2024-01-01T00:00:00']
    return {n: db.image_create(p1, {'name': n, 'visibility': 'private',
                                    'disk_format': 'raw' if i % 2 else 'qcow2'})['id']
            for i, n in enumerate(names)}


def names_of(db, ctx, filters):
    by_id = {r['id']: r['name'] for r in db.image_get_all(ctx, filters=filters)}
    return sorted(by_id.values())


@pytest.mark.parametrize('value, expected', [
    ('plain', ['plain']),
    ('eq:plain', ['plain']),
    ('eq:ubuntu:22.04', ['ubuntu:22.04']),
    ('eq:a,b', ['a,b']),
    ('in:"a,b",plain', ['a,b', 'plain']),
    ('in:plain,"a,b"', ['a,b', 'plain']),
    ('in:"fake\\"name",nope', ['fake\\"name']),   # as glance: the backslash stays
    ('in:fake\\"name', ['fake\\"name']),
    ('in:a,b', []),                      # two values, neither is an image name
    ('in:plain,', ['plain']),            # a trailing comma is ignored
    ('2024-01-01T00:00:00', ['2024-01-01T00:00:00']),   # a time as a whole: eq
    (['ubuntu:22.04', 'a,b'], ['a,b', 'ubuntu:22.04']),  # a list: values as given
])
def test_name_filter_operators_and_quoted_lists(db, p1, named, value, expected):
    assert names_of(db, p1, {'name': value}) == expected


def test_in_list_on_every_equality_column(db, p1, named):
    assert names_of(db, p1, {'disk_format': 'in:raw'}) == ['a,b', 'fake\\"name']
    assert names_of(db, p1, {'id': 'in:%s,%s' % (named['plain'], named['a,b'])}) == [
        'a,b', 'plain']
    assert names_of(db, p1, {'status': 'eq:queued', 'owner': 'in:p1,p9'}) == sorted(named)


@pytest.mark.parametrize('filters, error, words', [
    ({'name': 'ubuntu:22.04'}, exceptions.InvalidFilterOperator, ["'ubuntu'", 'name']),
    ({'name': 'gt:a'}, exceptions.InvalidFilterOperator, ["'gt'", 'name', 'eq:, in:']),
    ({'status': 'neq:active'}, exceptions.InvalidFilterOperator, ["'neq'", 'status']),
    ({'created_at': 'in:2024-01-01T00:00:00'}, exceptions.InvalidFilterOperator,
     ["'in'", 'created_at']),
    ({'created_at': 'soon:2024-01-01'}, exceptions.InvalidFilterOperator, ["'soon'"]),
    ({'name': 'in:"a'}, exceptions.InvalidFilterValue, ['name', 'not closed']),
    ({'name': 'in:a"b",c'}, exceptions.InvalidFilterValue, ['name', 'no comma before']),
    ({'name': 'in:na"me'}, exceptions.InvalidFilterValue, ['name', 'no comma before']),
    ({'name': 'in:"a"b,c'}, exceptions.InvalidFilterValue, ['name', 'no comma after']),
    ({'disk_format': 'in:"a""b"'}, exceptions.InvalidFilterValue,
     ['disk_format', 'no comma after']),
    ({'name': 'in:'}, exceptions.InvalidFilterValue, ['name', 'no value']),
    ({'updated_at': 'gte:soon'}, exceptions.InvalidFilterValue, ['updated_at', "'soon'"]),
])
def test_bad_operators_and_quoting_are_invalid_never_empty(
        db, p1, named, filters, error, words):
    with pytest.raises(error) as info:
        db.image_get_all(p1, filters=filters)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize('filters, words', [
    ({'size_min': 'big'}, ['size_min', "'big'"]),
    ({'size_max': 'lte:5'}, ['size_max', "'lte:5'"]),
    ({'min_ram_min': 2 ** 31 + 42}, ['min_ram_min', str(2 ** 31 + 42)]),
    ({'min_disk_max': str(-2 ** 31 - 1)}, ['min_disk_max']),
    ({'size_min': 2 ** 63}, ['size_min']),
    ({'size_min': 10, 'size_max': 5}, ['size_min 10', 'size_max 5']),
    ({'min_ram_min': '7', 'min_ram_max': '6'}, ['min_ram_min 7', 'min_ram_max 6']),
])
def test_bad_ranges_are_invalid_filter_range(db, p1, named, filters, words):
    with pytest.raises(exceptions.InvalidFilterRange) as info:
        db.image_get_all(p1, filters=filters)
    for word in words:
        assert word in str(info.value)


def test_ranges_at_the_column_limits_are_accepted(db, p1, named):
    assert names_of(db, p1, {'min_ram_min': 0, 'min_ram_max': 2 ** 31 - 1,
                             'size_max': 2 ** 63 - 1}) == []      # sizes are NULL
    assert len(names_of(db, p1, {'min_disk_min': -2 ** 31, 'min_disk_max': '0'})) == 5
    assert names_of(db, p1, {'min_ram_min': 3, 'min_ram_max': 3}) == []


@pytest.mark.parametrize('kwargs, error, word', [
    ({'sort_key': 'colour'}, exceptions.InvalidSortKey, 'colour'),
    ({'sort_key': ['name', 7]}, exceptions.InvalidSortKey, 'sort_key'),
    ({'sort_dir': 'sideways'}, exceptions.InvalidSortDir, 'sideways'),
    ({'sort_key': ['name', 'size'], 'sort_dir': ['asc', 'desc', 'asc']},
     exceptions.InvalidSortDir, 'does not match'),
    ({'sort_dir': 3}, exceptions.InvalidSortDir, 'sort_dir'),
])
def test_sort_errors_have_their_own_classes(db, p1, kwargs, error, word):
    with pytest.raises(error, match=word):
        db.image_get_all(p1, **kwargs)
    assert issubclass(error, exceptions.Invalid)


@pytest.mark.parametrize('value', ['d41d8cd98f00b204e9800998ecf8427e',
                                   'D41D8CD98F00B204E9800998ECF8427E'])
def test_checksum_filter_is_case_insensitive_on_every_engine(db, p1, value):
    image = db.image_create(p1, {'checksum': 'D41D8CD98F00B204E9800998ECF8427E'})
    assert image['checksum'] == 'd41d8cd98f00b204e9800998ecf8427e'
    assert [r['id'] for r in db.image_get_all(p1, filters={'checksum': value})] == [
        image['id']]
    assert [r['id'] for r in db.image_get_all(p1, filters={'checksum': 'in:%s' % value})] == [
        image['id']]


@pytest.mark.parametrize('value', ['42' * 42, '\u042f' * 32, 'g' * 32, '', 'abc'])
def test_bad_checksums_are_invalid_everywhere(db, p1, value):
    with pytest.raises(exceptions.Invalid, match='checksum'):
        db.image_create(p1, {'checksum': value})
    image = db.image_create(p1, {'name': 'x'})
    with pytest.raises(exceptions.Invalid, match='checksum'):
        db.image_update(p1, image['id'], {'checksum': value})
    with pytest.raises(exceptions.Invalid, match='filter checksum'):
        db.image_get_all(p1, filters={'checksum': value})


def test_the_parser_alone():
    assert filtering.split_list('f', '"a,b",c,"",d\\,e') == ['a,b', 'c', '', 'd\\', 'e']
    assert filtering.split_list('f', 'a,,b,') == ['a', '', 'b']
    assert filtering.split_operator('f', 'in:x', ('eq', 'in')) == ('in', 'x')
    assert filtering.split_operator('f', 'x', ('eq', 'in')) == ('eq', 'x')


def test_in_lists_split_as_glance_splits_them():
    """Every string of up to 7 characters over a , " \\ splits into the same
    values as glance's split_filter_value_for_quotes, or is refused as it
    refuses it, but where a quote follows an escaped backslash (glance's
    checker and splitter disagree there)."""
    utils = pytest.importorskip('glance.common.utils')
    glance_errors = pytest.importorskip('glance.common.exception')
    differ = []
    for n in range(1, 8):
        for chars in itertools.product('a,"\\', repeat=n):
            text = ''.join(chars)
            try:
                theirs = utils.split_filter_value_for_quotes(text)
            except glance_errors.InvalidParameterValue:
                theirs = 'refused'
            try:
                ours = filtering.split_list('f', text)
            except exceptions.InvalidFilterValue:
                ours = 'refused'
            if ours != theirs and '\\\\"' not in text:
                differ.append((text, theirs, ours))
    assert differ == []
