"""Location URL parsing and normalisation, shared by drivers and the resolver.

A location URL is reduced to a :class:`Key` for matching: the scheme
*family*, the lower-cased host, the port (defaults dropped) and the tuple of
normalised path segments.  Credentials are parsed (drivers need them for
legacy URLs) but never take part in matching.  See ``doc/resolution.md``.
"""

import dataclasses
import hashlib
import re
import urllib.parse

from store_kit import exceptions

#: scheme -> family.  Schemes of one family are interchangeable for matching.
FAMILIES = {
    's3': 's3', 's3+http': 's3', 's3+https': 's3',
    'file': 'file', 'filesystem': 'file',
    'http': 'http', 'https': 'https',
}
DEFAULT_PORTS = frozenset((80, 443))
# Families whose netloc may hold a secret containing '/', '+' or ':'.
_SECRET_NETLOC_FAMILIES = frozenset(('s3',))

_UNRESERVED = frozenset(
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~')
_PCT_RE = re.compile(r'%([0-9A-Fa-f]{2})')


@dataclasses.dataclass(frozen=True)
class ParsedURL:
    """A location URL taken apart.  ``segments`` is the normalised path."""

    scheme: str
    family: str
    username: str | None
    password: str | None
    host: str
    port: int | None
    segments: tuple
    query: str = ''

    @property
    def key(self):
        """What matching compares: (family, host, port), segments."""
        return (self.family, self.host, self.port), self.segments

    @property
    def path(self):
        """The normalised path; ``/..`` when it climbs above the root."""
        if self.segments is None:
            return '/..'
        return '/' + '/'.join(self.segments)

    @property
    def netloc(self):
        """host[:port], without credentials."""
        return self.host if self.port is None else '%s:%d' % (self.host,
                                                              self.port)

    def __repr__(self):
        # Never show the password.
        return 'ParsedURL(%s://%s%s)' % (self.scheme, self.netloc, self.path)


def _decode_unreserved(match):
    char = chr(int(match.group(1), 16))
    if char in _UNRESERVED:
        return char
    return '%' + match.group(1).upper()


def normalise_segments(path):
    """Split *path* into normalised segments.

    ``//`` collapses, ``.`` goes, percent-encoded unreserved characters are
    decoded (other escapes upper-cased), ``..`` pops a segment and a trailing
    ``/`` is ignored.  Returns ``None`` when ``..`` climbs above the root:
    such a URL is owned by nobody.
    """
    if '%' in path:
        path = _PCT_RE.sub(_decode_unreserved, path)
    if '/.' not in path:
        if '//' in path or path.endswith('/'):
            return tuple([s for s in path.split('/') if s])
        return tuple(path.split('/')[1:])
    out = []
    for seg in path.split('/'):
        if not seg or seg == '.':
            continue
        if seg == '..':
            if not out:
                return None
            out.pop()
        else:
            out.append(seg)
    return tuple(out)


def _split_netloc(scheme, rest):
    """Return (userinfo or None, hostport, path) for the part after ``://``."""
    slash = rest.find('/')
    if FAMILIES.get(scheme) in _SECRET_NETLOC_FAMILIES and '@' in rest:
        # Legacy s3 URLs: s3://ACCESS:SECRET@host/bucket/key where SECRET may
        # hold '/', '+' or ':'.  The host part follows the last '@' that comes
        # before the first '/' after it.
        at = _last_credential_at(rest)
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1:]
            slash = rest.find('/')
            if slash < 0:
                return userinfo, rest, ''
            return userinfo, rest[:slash], rest[slash:]
    if slash < 0:
        hostport, path = rest, ''
    else:
        hostport, path = rest[:slash], rest[slash:]
    at = hostport.rfind('@')
    if at >= 0:
        return hostport[:at], hostport[at + 1:], path
    return None, hostport, path


def _last_credential_at(rest):
    """Index of the '@' closing the credentials of a legacy s3 URL, or -1.

    The credentials are ``access:secret``: the first ':' comes before the
    closing '@', and what follows that '@' up to the next '/' is a host.
    We take the last '@' whose prefix contains a ':' so a key holding '@'
    does not confuse us, as long as the host part has no '@'.
    """
    colon = rest.find(':')
    if colon < 0:
        return -1
    slash = rest.find('/', colon)
    if slash > colon + 1 and rest[colon + 1:slash].isdigit() and (
            rest.find('@') > slash):
        return -1                       # host:port/...@... -- no credentials
    at = rest.find('@', colon)
    while at >= 0:
        nxt = rest.find('@', at + 1)
        host_end = rest.find('/', at + 1)
        if nxt < 0 or (host_end >= 0 and nxt > host_end):
            return at
        at = nxt
    return -1


def _components(url):
    """(scheme, family, userinfo, host, port, raw path, query) of *url*."""
    if not isinstance(url, str):
        raise exceptions.BadStoreUri('location URL must be a string, got %r'
                                     % type(url).__name__)
    sep = url.find('://')
    if sep <= 0:
        raise exceptions.BadStoreUri('not a location URL: %r' % redact(url))
    scheme = url[:sep].lower()
    family = FAMILIES.get(scheme)
    if family is None:
        raise exceptions.BadStoreUri('unknown scheme %r in location URL %r'
                                     % (scheme, redact(url)))
    rest = url[sep + 3:]
    query = ''
    if '#' in rest:
        rest = rest.split('#', 1)[0]
    if family != 's3' and '?' in rest:
        rest, query = rest.split('?', 1)
    userinfo, hostport, path = _split_netloc(scheme, rest)
    host, port = _split_port(hostport, url)
    if family == 'file' and host == 'localhost':
        host = ''
    return scheme, family, userinfo, host, port, path, query


def parse(url):
    """Parse *url* into a :class:`ParsedURL`.

    Raises :class:`~store_kit.exceptions.BadStoreUri` for something that is
    not a URL of a known family.  A path whose ``..`` climbs above the root
    parses, with ``segments`` set to ``None``.
    """
    scheme, family, userinfo, host, port, path, query = _components(url)
    username = password = None
    if userinfo is not None:
        username, _, password = userinfo.partition(':')
    return ParsedURL(scheme, family, username, password or None, host, port,
                     normalise_segments(path), query)


def match_key(url):
    """``((family, host, port), segments)`` of *url*: what matching uses.

    The same as ``parse(url).key``, without building the object; written
    for speed because the resolver calls it once per lookup.
    """
    sep = url.find('://') if isinstance(url, str) else -1
    family = FAMILIES.get(url[:sep]) if sep > 0 else None
    if family is None or '?' in url or '#' in url or '[' in url:
        _, family, _, host, port, path, _ = _components(url)
        return (family, host, port), normalise_segments(path)
    rest = url[sep + 3:]
    if '@' in rest:
        userinfo, hostport, path = _split_netloc(family, rest)
    else:
        slash = rest.find('/')
        if slash < 0:
            hostport, path = rest, ''
        else:
            hostport, path = rest[:slash], rest[slash:]
    host, colon, portstr = hostport.lower().partition(':')
    if not colon:
        port = None
        if family == 'file' and host == 'localhost':
            host = ''
    elif portstr.isdigit() and 0 < int(portstr) < 65536:
        port = int(portstr)
        if port in DEFAULT_PORTS:
            port = None
    else:
        host, port = _split_port(hostport, url)   # raises BadStoreUri
    return (family, host, port), normalise_segments(path)


def _split_port(hostport, url):
    hostport = hostport.lower()
    if hostport.startswith('['):           # IPv6 literal
        end = hostport.find(']')
        host, tail = hostport[:end + 1], hostport[end + 1:]
        portstr = tail[1:] if tail.startswith(':') else ''
    else:
        host, _, portstr = hostport.partition(':')
    if not portstr:
        return host, None
    if not portstr.isdigit() or not 0 < int(portstr) < 65536:
        raise exceptions.BadStoreUri('bad port %r in location URL %r'
                                     % (portstr, redact(url)))
    port = int(portstr)
    return host, (None if port in DEFAULT_PORTS else port)


_NOT_PLAIN = re.compile(r'[%?#@\[]|//|/\.|/$')


def plain_file_path(url):
    """The path of a ``file:///...`` URL already in normal form (no escape,
    query, fragment, credentials, ``//``, dot segment or trailing ``/``), or
    None: the fast path of image URLs as stores write them."""
    if url.startswith('file:///') and not _NOT_PLAIN.search(url, 7):
        return url[7:]
    return None


def normal_form(url):
    """The resolver's normal form of *url*: ``family://host[:port]/segments``.

    Two URLs with the same normal form name the same data (credentials,
    query, fragment, default ports, case of scheme and host and the
    spelling of the path do not matter).  Returns None for a URL whose
    ``..`` climbs above the root; raises :class:`BadStoreUri` for
    something that is not a location URL.
    """
    if plain_file_path(url) is not None:
        return url
    (family, host, port), segments = match_key(url)
    if segments is None:
        return None
    if family == 's3' and len(segments) > 1:
        # an s3 store reads the percent-decoded key: every encoding of one
        # key is the same object
        key = urllib.parse.unquote('/'.join(segments[1:]))
        segments = (segments[0], urllib.parse.quote(key, safe='/'))
    netloc = host if port is None else '%s:%d' % (host, port)
    return '%s://%s/%s' % (family, netloc, '/'.join(segments))


def url_key(url):
    """A fixed-length key (64 hex digits) of :func:`normal_form` of *url*,
    for indexing; URLs that do not parse are keyed by their raw text.

    The catalog stores it (``locations.url_key``): a change to what it
    computes needs a migration that recomputes the column.
    """
    try:
        form = normal_form(url)
    except exceptions.BadStoreUri:
        form = None
    text = form if form is not None else 'raw:%s' % (url,)
    return hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()


def redact(url):
    """*url* fit for messages and logs: credentials become ``***`` and a
    query (which may hold a signature) becomes ``?...``.

    Safe on anything: a non-URL comes back unchanged (as a string).
    """
    url = str(url)
    sep = url.find('://')
    if sep < 0:
        return url
    scheme = url[:sep].lower()
    rest = url[sep + 3:]
    if FAMILIES.get(scheme) != 's3':
        rest, query, _ = rest.partition('#')[0].partition('?')
        query = '?...' if query else ''
    else:
        query = ''
    try:
        userinfo, hostport, path = _split_netloc(scheme, rest)
    except Exception:  # pragma: no cover - defensive, never leak
        return url[:sep + 3] + '***'
    if userinfo is None:
        return url[:sep + 3] + rest + query
    return '%s://***@%s%s%s' % (url[:sep], hostport, path, query)


_TEXT_CREDENTIALS_RE = re.compile(r'(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\'"]*@')
_TEXT_QUERY_RE = re.compile(r'\?[^\s\'")]+')


def redact_text(text):
    """*text* (an error message, a log line) with the credentials and query
    strings of every URL in it replaced, as :func:`redact` does for one."""
    text = _TEXT_CREDENTIALS_RE.sub(r'\1***@', str(text))
    return _TEXT_QUERY_RE.sub('?...', text)


def strip_credentials(url):
    """*url* without its ``user:password@`` part (everything else as is)."""
    sep = url.find('://')
    if sep < 0:
        return url
    userinfo, hostport, path = _split_netloc(url[:sep].lower(),
                                             url[sep + 3:])
    if userinfo is None:
        return url
    return '%s://%s%s' % (url[:sep], hostport, path)


class StoreLocation:
    """Base of the per-driver location classes named in the location map.

    A driver's subclass knows how to turn its own location URLs into the
    pieces it needs (``parse_url``) and back (``url``).
    """

    def __init__(self, store_name, parsed):
        self.store_name = store_name
        self.parsed = parsed

    @classmethod
    def from_url(cls, url, store_name=None):
        return cls(store_name, parse(url))

    @property
    def url(self):
        p = self.parsed
        return '%s://%s%s' % (p.scheme, p.netloc, p.path)

    def __repr__(self):
        return '%s(%s)' % (type(self).__name__, redact(self.url))
