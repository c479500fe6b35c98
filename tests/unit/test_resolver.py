"""The resolution rules of DESIGN.md, on the prefix index."""

import pytest
from hypothesis import assume, given, strategies as st

from store_kit import exceptions
from store_kit.resolver import PrefixIndex


def make_index(prefixes, catch_all=None):
    idx = PrefixIndex()
    for name, prefix in prefixes.items():
        idx.add_prefix(prefix, name)
    for name, families in (catch_all or {}).items():
        idx.add_catch_all(families, name)
    return idx


@pytest.fixture
def idx():
    return make_index({
        'images': 'file:///data/images',
        'images2': 'file:///data/images2',
        'deep': 'file:///data/images/deep',
        'pool1': 's3://s3.example.com/pool1',
        'pool10': 's3://s3.example.com/pool10',
        'minio': 's3://minio.local:9000/pool1',
        'pub': 'https://cdn.example.com/pub',
        'plain': 'http://cdn.example.com/pub',
    }, catch_all={'web': ('http', 'https')})


@pytest.mark.parametrize('url,owner', [
    # segment boundary, never raw startswith
    ('file:///data/images/x', 'images'),
    ('file:///data/images2/x', 'images2'),
    ('file:///data/images-old/x', None),
    # longest prefix wins
    ('file:///data/images/deep/x', 'deep'),
    ('file:///data/images/deeper/x', 'images'),
    # file family, localhost, case of scheme
    ('filesystem:///data/images/x', 'images'),
    ('FILE://localhost/data/images/x', 'images'),
    # path normalisation
    ('file:///data//images/./x', 'images'),
    ('file:///data/images/deep/../x', 'images'),
    ('file:///data/%69mages/x', 'images'),
    ('file:///data/images/../images2/x', 'images2'),
    ('file:///data/images/../../etc/passwd', None),
    ('file:///../data/images/x', None),
    # s3: bucket names sharing a prefix, credentials, family, ports
    ('s3://s3.example.com/pool1/img', 'pool1'),
    ('s3://s3.example.com/pool10/img', 'pool10'),
    ('s3://s3.example.com/pool100/img', None),
    ('s3+https://OLDKEY:old/se+cret@S3.EXAMPLE.COM:443/pool10/img', 'pool10'),
    ('s3+http://s3.example.com:80/pool1/img', 'pool1'),
    ('s3://minio.local:9000/pool1/img', 'minio'),
    ('s3://minio.local/pool1/img', None),
    # http(s): distinct schemes for real prefixes, catch-all for the rest
    ('https://cdn.example.com/pub/img', 'pub'),
    ('http://cdn.example.com/pub/img', 'plain'),
    ('https://CDN.example.com:443/pub/img', 'pub'),
    ('https://cdn.example.com/public/img', 'web'),
    ('http://elsewhere.org/x', 'web'),
    # nobody
    ('ftp://x/y', None),
    ('garbage', None),
    (None, None),
])
def test_rules(idx, url, owner):
    assert idx.lookup(url) == owner


def test_same_normalised_prefix_is_a_config_error_naming_both():
    idx = make_index({'a': 'file:///data/images'})
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        idx.add_prefix('filesystem:///data//images/', 'b')
    assert "'a'" in str(err.value) and "'b'" in str(err.value)
    assert '/data/images' in str(err.value)


def test_two_catch_alls_is_a_config_error():
    idx = make_index({}, catch_all={'web': ('http', 'https')})
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        idx.add_catch_all(('http', 'https'), 'web2')
    assert 'web' in str(err.value) and 'web2' in str(err.value)


def test_prefix_never_holds_credentials_in_error():
    idx = make_index({'a': 's3://h/b'})
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        idx.add_prefix('s3://AK:SECRET@h/b', 'b')
    assert 'SECRET' not in str(err.value)


# -- property tests: every equivalence in DESIGN leaves resolve unchanged --

NAMES = ['pool1', 'pool10', 'pool100', 'images', 'images2']
PREFIXES = {}
for i, n in enumerate(NAMES):
    PREFIXES['f-' + n] = 'file:///srv/%s' % n
    PREFIXES['s-' + n] = 's3://s3.example.com/%s' % n
    PREFIXES['m-' + n] = 's3://minio.local:9000/%s' % n
    PREFIXES['h-' + n] = 'https://cdn.example.com/%s' % n
PREFIXES['nested'] = 'file:///srv/pool1/nested'
INDEX = make_index(PREFIXES, catch_all={'web': ('http', 'https')})

seg = st.text(alphabet='abcdefghij0123456789-_~', min_size=1, max_size=6)


def _url(family_scheme, netloc, segments):
    return '%s://%s/%s' % (family_scheme, netloc, '/'.join(segments))


@st.composite
def owned_url(draw):
    kind = draw(st.sampled_from(['f', 's', 'm', 'h']))
    name = draw(st.sampled_from(NAMES + ['pool1000', 'other']))
    rest = draw(st.lists(seg, min_size=0, max_size=4))
    netloc = {'f': '', 's': 's3.example.com', 'm': 'minio.local:9000',
              'h': 'cdn.example.com'}[kind]
    scheme = {'f': 'file', 's': 's3', 'm': 's3', 'h': 'https'}[kind]
    return kind, scheme, netloc, [name] + rest


def _variant(draw, kind, scheme, netloc, segs):
    """An equivalent spelling of the URL."""
    schemes = {'f': ['file', 'filesystem', 'FILE'],
               's': ['s3', 's3+https', 's3+http', 'S3'],
               'm': ['s3', 's3+http', 'S3+HTTPS'],
               'h': ['https', 'HTTPS']}[kind]
    scheme = draw(st.sampled_from(schemes))
    if kind == 'f':
        netloc = draw(st.sampled_from(['', 'localhost', 'LocalHost']))
    else:
        host, _, port = netloc.partition(':')
        if draw(st.booleans()):
            host = host.upper()
        if not port and draw(st.booleans()):
            port = draw(st.sampled_from(['443', '80'])) if kind != 'h' \
                else '443'
        netloc = host + (':' + port if port else '')
        if kind in 's' 'm' and draw(st.booleans()):
            creds = draw(st.sampled_from(['AK:SK', 'ROTATED:a/b+c:d',
                                          'x:y/z']))
            netloc = creds + '@' + netloc
        elif kind == 'h' and draw(st.booleans()):
            netloc = 'user:pw@' + netloc
    out = []
    for s in segs:
        if draw(st.booleans()):
            # every character of these names is unreserved
            s = ''.join('%%%02X' % ord(c) if draw(st.booleans()) else c
                        for c in s)
        out.append(s)
        if draw(st.integers(0, 4)) == 0:
            out.append('.')
        if draw(st.integers(0, 4)) == 0:
            out.append('')           # a doubled slash
        if draw(st.integers(0, 5)) == 0:
            out.extend(['zz', '..'])
    url = _url(scheme, netloc, out)
    if draw(st.booleans()):
        url += '/'
    return url


@given(st.data())
def test_equivalent_spellings_resolve_alike(data):
    kind, scheme, netloc, segs = data.draw(owned_url())
    canonical = _url(scheme, netloc, segs)
    variant = _variant(data.draw, kind, scheme, netloc, segs)
    assert INDEX.lookup(variant) == INDEX.lookup(canonical), (
        canonical, variant)


@given(name=st.sampled_from(NAMES), tail=seg)
def test_prefix_owns_only_at_segment_boundary(name, tail):
    assume(tail not in NAMES)
    url = 'file:///srv/%s%s/img' % (name, tail)
    owner = INDEX.lookup(url)
    assert owner is None or owner == 'f-' + name + tail


@given(st.data())
def test_lookup_does_not_depend_on_registration_order(data):
    items = data.draw(st.permutations(sorted(PREFIXES.items())))
    idx = make_index(dict(items), catch_all={'web': ('http', 'https')})
    kind, scheme, netloc, segs = data.draw(owned_url())
    url = _url(scheme, netloc, segs)
    assert idx.lookup(url) == INDEX.lookup(url)


@pytest.mark.parametrize('url,owner', [
    ('file:///srv/pool1', 'f-pool1'),             # the prefix itself
    ('file:///srv/pool1/nested', 'nested'),
    ('file:///srv/pool1/nested/x', 'nested'),
    ('file:///srv/pool1/x/..', 'f-pool1'),
    ('file:///srv/pool1/%6Eested', 'nested'),
    ('https://cdn.example.com/pool1?x=/pool10/y', 'h-pool1'),
    ('https://cdn.example.com/other#/pool1/y', 'web'),
])
def test_memoised_walk_gives_the_same_answers(url, owner):
    fresh = make_index(PREFIXES, catch_all={'web': ('http', 'https')})
    assert fresh.lookup(url) == owner
    assert fresh.lookup(url) == owner              # second time: memo hit
    assert INDEX.lookup(url) == owner


def test_memo_is_dropped_when_the_index_changes():
    idx = make_index({'a': 'file:///srv'})
    assert idx.lookup('file:///srv/deep/x') == 'a'
    idx.add_prefix('file:///srv/deep', 'b')
    assert idx.lookup('file:///srv/deep/x') == 'b'
