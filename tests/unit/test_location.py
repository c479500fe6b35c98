"""URL parsing, normalisation and redaction (store_kit.location)."""

import pytest
from hypothesis import given, strategies as st

from store_kit import exceptions
from store_kit import location


@pytest.mark.parametrize('url,key', [
    ('file:///data/images/x', (('file', '', None), ('data', 'images', 'x'))),
    ('FILESYSTEM://LOCALHOST/data/x', (('file', '', None), ('data', 'x'))),
    ('file:///data//images/./x/',
     (('file', '', None), ('data', 'images', 'x'))),
    ('file:///data/images/y/../x', (('file', '', None),
                                    ('data', 'images', 'x'))),
    ('file:///data/%69mages/%7Ex', (('file', '', None),
                                    ('data', 'images', '~x'))),
    ('http://Example.COM:80/a', (('http', 'example.com', None), ('a',))),
    ('https://example.com:443/a', (('https', 'example.com', None), ('a',))),
    ('https://example.com:8443/a', (('https', 'example.com', 8443), ('a',))),
    ('s3+https://h:9000/b/k', (('s3', 'h', 9000), ('b', 'k'))),
    ('http://u:p@h/a?x=1#f', (('http', 'h', None), ('a',))),
])
def test_match_key(url, key):
    assert location.match_key(url) == key
    assert location.parse(url).key == key


def test_reserved_escapes_are_kept_but_canonical():
    assert location.match_key('http://h/a%2fb')[1] == ('a%2Fb',)
    assert location.match_key('http://h/a%2Fb')[1] == ('a%2Fb',)


def test_dotdot_above_root_is_owned_by_nobody():
    assert location.parse('file:///../etc/passwd').segments is None
    assert location.match_key('file:///a/../../etc')[1] is None


@pytest.mark.parametrize('url,user,secret,host,segments', [
    ('s3://AK:se/cr+et:x@s3.example.com/bucket/img', 'AK', 'se/cr+et:x',
     's3.example.com', ('bucket', 'img')),
    ('s3://AK:a/b+c:d/e@S3.example.com:9000/bucket/img', 'AK', 'a/b+c:d/e',
     's3.example.com', ('bucket', 'img')),
    ('s3://AK:SK@host/bucket/key@with-at', 'AK', 'SK', 'host',
     ('bucket', 'key@with-at')),
    ('s3://host:9000/bucket/key@with-at', None, None, 'host',
     ('bucket', 'key@with-at')),
])
def test_legacy_s3_credentials(url, user, secret, host, segments):
    p = location.parse(url)
    assert (p.username, p.password, p.host, p.segments) == (
        user, secret, host, segments)
    assert location.match_key(url) == p.key
    if secret:
        assert secret not in repr(p)
        assert secret not in location.redact(url)


@pytest.mark.parametrize('bad', ['', 'no-scheme', 'ftp://h/x', '://x',
                                 'http://h:99999/x', 'http://h:abc/x'])
def test_bad_urls_raise_bad_store_uri_naming_them(bad):
    with pytest.raises(exceptions.BadStoreUri):
        location.parse(bad)


def test_bad_url_message_never_holds_the_secret():
    with pytest.raises(exceptions.BadStoreUri) as err:
        location.parse('s3://AK:TOPSECRET@h:bad/b/k')
    assert 'TOPSECRET' not in str(err.value)


def test_non_string_is_bad_store_uri():
    with pytest.raises(exceptions.BadStoreUri):
        location.parse(None)
    with pytest.raises(exceptions.BadStoreUri):
        location.match_key(b'file:///x')


def test_redact():
    assert location.redact('http://u:pw@h/x') == 'http://***@h/x'
    assert location.redact('file:///x') == 'file:///x'
    assert location.redact('not a url') == 'not a url'


# -- property tests -------------------------------------------------------

segment = st.text(alphabet='abcdefghijklmnopqrstuvwxyz0123456789-_.~',
                  min_size=1, max_size=8).filter(
                      lambda s: s not in ('.', '..'))
hosts = st.from_regex(r'[a-z][a-z0-9]{0,8}(\.[a-z]{2,4})?', fullmatch=True)


@given(scheme=st.sampled_from(['file', 'http', 'https', 's3', 's3+https']),
       host=hosts, port=st.one_of(st.none(), st.integers(1024, 65535)),
       segs=st.lists(segment, min_size=1, max_size=6))
def test_format_parse_round_trip(scheme, host, port, segs):
    if scheme == 'file':
        host, port = '', None
    netloc = host if port is None else '%s:%d' % (host, port)
    url = '%s://%s/%s' % (scheme, netloc, '/'.join(segs))
    parsed = location.parse(url)
    assert parsed.segments == tuple(segs)
    again = location.StoreLocation(None, parsed).url
    assert location.parse(again) == parsed
    assert again == url


def test_redact_hides_queries_that_may_hold_signatures():
    assert location.redact('https://u:p@h/x?sig=abc#f') == \
        'https://***@h/x?...'
    assert location.redact('https://h/x?X-Amz-Signature=abc') == \
        'https://h/x?...'
    # in s3 URLs '?' is part of the key, not a query
    assert location.redact('s3://h/b/k?1') == 's3://h/b/k?1'


@pytest.mark.parametrize('url,stripped', [
    ('s3://AK:se/cr+et:x@host:9000/b/k', 's3://host:9000/b/k'),
    ('https://u:p@h/x?q=1', 'https://h/x?q=1'),
    ('file:///x', 'file:///x'),
])
def test_strip_credentials(url, stripped):
    assert location.strip_credentials(url) == stripped
