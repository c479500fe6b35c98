"""URL parsing, normalisation and redaction (store_kit.location)."""

import pytest
from hypothesis import given, strategies as st

from store_kit import exceptions
from store_kit import location
from store_kit import resolver


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
    # store_kit writes '@' in keys as %40: unambiguous
    ('s3://AK:SK@host/bucket/key%40with-at', 'AK', 'SK', 'host',
     ('bucket', 'key%40with-at')),
    ('s3://host:9000/bucket/key%40with-at', None, None, 'host',
     ('bucket', 'key%40with-at')),
    # a secret starting with digits then '/' is not a port (issue 8)
    ('s3://AKIAIOSFODNN7EXAMPLE:9/alrXUtnFEMISECRETKEY+bPxRfiCY@127.0.0.1:5810'
     '/imgs/img', 'AKIAIOSFODNN7EXAMPLE', '9/alrXUtnFEMISECRETKEY+bPxRfiCY',
     '127.0.0.1', ('imgs', 'img')),
    ('s3://AK:1/a@[::1]:9000/b/k', 'AK', '1/a', '[::1]', ('b', 'k')),
    # a key holding ':' then '@' is a key, not credentials (issue 8)
    ('s3://h/pool1/x:y@h/pool10/obj', None, None, 'h',
     ('pool1', 'x:y@h', 'pool10', 'obj')),
    ('s3://AK:S@K@h/b/k', 'AK', 'S@K', 'h', ('b', 'k')),
])
def test_legacy_s3_credentials(url, user, secret, host, segments):
    p = location.parse(url)
    assert (p.username, p.password, p.host, p.segments) == (
        user, secret, host, segments)
    assert location.match_key(url) == p.key
    if secret:
        assert secret not in repr(p)
        assert secret not in location.redact(url)
        assert secret not in location.redact_text('cannot read %s: gone' % url)
        assert secret not in location.strip_credentials(url)


@pytest.mark.parametrize('url,host,segments', [
    # a raw '@' in a key after a port or credentials reads as the end of
    # credentials: the reading that hides more (a location needs a bucket
    # and a key, so such a URL resolves to nobody)
    ('s3://host:9000/bucket/key@with-at', 'with-at', ()),
    ('s3://AK:SK@host/bucket/key@with-at', 'with-at', ()),
    ('s3://AK:SK@h/pool1/x:y@h/pool10/obj', 'h', ('pool10', 'obj')),
])
def test_ambiguous_at_in_s3_key_errs_towards_credentials(url, host, segments):
    p = location.parse(url)
    assert (p.host, p.segments) == (host, segments)
    assert location.match_key(url) == p.key
    assert location.redact(url) == 's3://***@%s%s' % (
        host, ''.join('/' + s for s in segments))


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


# -- legacy s3 credentials, whatever the secret holds (issue 8) -------------

aws_access_keys = st.from_regex(r'[A-Z0-9]{16,32}', fullmatch=True)
aws_secrets = st.one_of(
    st.from_regex(r'[A-Za-z0-9+/]{1,60}', fullmatch=True),
    st.from_regex(r'[0-9]{1,6}/[A-Za-z0-9+/]{0,40}', fullmatch=True),
    st.from_regex(r'[A-Za-z0-9+/:]{1,60}', fullmatch=True))
s3_hosts = st.one_of(
    st.from_regex(r'[a-z][a-z0-9-]{0,10}(\.[a-z0-9-]{1,10}){0,3}',
                  fullmatch=True),
    st.builds('{}.{}.{}.{}'.format, *[st.integers(0, 255)] * 4),
    st.sampled_from(['[::1]', '[2001:db8::7]', 'S3.Example.COM']))
s3_buckets = st.from_regex(r'[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]',
                           fullmatch=True).filter(lambda b: '..' not in b)
key_segments = st.lists(
    st.one_of(st.from_regex(r'[a-z0-9._~-]{1,12}', fullmatch=True),
              st.sampled_from(['a%40b', 'x:y', '%3A', 'k+v'])).filter(
                  lambda s: s not in ('.', '..')),
    min_size=1, max_size=3)


@given(scheme=st.sampled_from(['s3', 's3+http', 's3+https', 'S3']),
       access=aws_access_keys, secret=aws_secrets, host=s3_hosts,
       port=st.one_of(st.none(), st.integers(1, 65535)), bucket=s3_buckets,
       key=key_segments)
def test_legacy_s3_secret_is_never_a_host_or_key(scheme, access, secret, host,
                                                 port, bucket, key):
    netloc = host if port is None else '%s:%d' % (host, port)
    path = '/%s/%s' % (bucket, '/'.join(key))
    url = '%s://%s:%s@%s%s' % (scheme, access, secret, netloc, path)
    p = location.parse(url)
    want_port = None if port in (80, 443) else port
    assert (p.username, p.password) == (access, secret)
    assert (p.host, p.port, p.segments) == (host.lower(), want_port,
                                            (bucket,) + tuple(key))
    assert location.match_key(url) == p.key
    # the resolver finds the store of that bucket, beside decoys
    index = resolver.PrefixIndex()
    index.add_prefix('s3://%s/%s' % (netloc, bucket), 'right')
    index.add_prefix('s3://%s/%s-x' % (netloc, bucket), 'sibling')
    index.add_prefix('s3://%s/%s' % (access, bucket), 'access-as-host')
    assert index.lookup(url) == 'right'
    assert index.lookup(url) == 'right'            # memoised walk too
    # nothing of the credentials in any rendering
    clean = '%s://***@%s%s' % (scheme, netloc, path)
    assert location.redact(url) == clean
    assert location.redact_text('cannot read %s: gone' % url) == (
        'cannot read %s: gone' % clean)
    assert location.redact_text('(%r)' % url) == '(%r)' % clean
    assert location.strip_credentials(url) == '%s://%s%s' % (scheme, netloc,
                                                             path)
    assert repr(p) == 'ParsedURL(%s://%s%s)' % (
        scheme.lower(), p.netloc, p.path)


@pytest.mark.parametrize('text', [
    'copy s3://h/b/k,s3://AK:9/sec/ret@h2/b/k failed',
    'urls: s3://AK:x://sec/ret@h/b/k',
    'bad port in s3://AK:9/sec/ret@h:99999/b/k',
])
def test_redact_text_hides_secrets_of_every_url(text):
    out = location.redact_text(text)
    assert 'sec/ret' not in out and '***@' in out


@pytest.mark.parametrize('url', [
    'https://u:pa/ss@h/x',            # not RFC: the secret would be a port
    's3://AK:9/sec/ret@h:99999/b/k',  # bad port after the credentials
    's3://AK:9/sec/ret@b!d/b/k',      # bad host after the credentials
])
def test_redact_hides_malformed_credentials(url):
    assert 'sec/ret' not in location.redact(url)
    assert 'pa/ss' not in location.redact(url)


@pytest.mark.parametrize('url', ['http://h:\u00b2/x', 's3://h:\u00b2/b/k',
                                 'http://h:\u0663/x'])
def test_non_ascii_digit_port_is_bad_store_uri(url):
    with pytest.raises(exceptions.BadStoreUri):
        location.parse(url)
    with pytest.raises(exceptions.BadStoreUri):
        location.match_key(url)
