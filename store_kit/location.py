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
    """Return (userinfo or None, hostport, path) for the part after ``://``.

    s3-family URLs take their userinfo from :func:`credential_at` (legacy
    secrets may hold '/', '+' and ':'); the others by RFC 3986, from the
    last '@' before the first '/'.
    """
    if '@' in rest and FAMILIES.get(scheme) in _SECRET_NETLOC_FAMILIES:
        at = credential_at(rest)
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1:]
            slash = rest.find('/')
            if slash < 0:
                return userinfo, rest, ''
            return userinfo, rest[:slash], rest[slash:]
    slash = rest.find('/')
    if slash < 0:
        hostport, path = rest, ''
    else:
        hostport, path = rest[:slash], rest[slash:]
    at = hostport.rfind('@')
    if at >= 0:
        return hostport[:at], hostport[at + 1:], path
    return None, hostport, path


_HOST_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
_IPV6_RE = re.compile(r'\[[0-9A-Fa-f:.]+\]\Z')


def is_hostport(text):
    """True when *text* is a syntactically valid ``host[:port]`` (a name of
    unreserved characters or a bracketed IPv6 literal; port 1-65535)."""
    if text.startswith('['):
        end = text.find(']') + 1
        host, port = text[:end], text[end:]
        if port:
            if port[0] != ':':
                return False
            port = port[1:]
            if not port:
                return False
        if not _IPV6_RE.match(host):
            return False
    else:
        host, colon, port = text.partition(':')
        # strip() with the allowed characters leaves nothing of a good name
        if not host or host.strip(_HOST_CHARS) or (colon and not port):
            return False
    return not port or (port.isdigit() and port.isascii() and len(port) <= 5
                        and 0 < int(port) < 65536)


def credential_at(rest):
    """Index of the '@' that ends the userinfo in *rest* (the part of a URL
    after ``://``), or -1 when it has none.

    The rule for legacy s3 URLs, whose secrets may hold '/', '+' and ':'
    (so the first '/' is no boundary): the last '@' such that the user name
    before it (up to the first ':') holds no '/' and a valid host[:port]
    follows it (up to the next '/').  If no '@' has a valid host after it,
    the last one with a '/'-free user name still ends the userinfo: a
    malformed URL loses too much rather than shows a secret.
    """
    colon = rest.find(':')
    slash = rest.find('/')
    fallback = -1
    at = rest.rfind('@')
    while at >= 0:
        earlier = rest.rfind('@', 0, at)
        user_end = colon if 0 <= colon < at else at
        if slash < 0 or slash >= user_end:
            if fallback < 0 and earlier < 0:
                return at       # the only candidate: it wins either way
            end = rest.find('/', at + 1)
            if is_hostport(rest[at + 1:] if end < 0 else rest[at + 1:end]):
                return at
            if fallback < 0:
                fallback = at
        at = earlier
    return fallback


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
    elif portstr.isdigit() and portstr.isascii() and 0 < int(portstr) < 65536:
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
        if end < 0 or (tail and not tail.startswith(':')):
            raise exceptions.BadStoreUri('bad IPv6 host in location URL %r'
                                         % redact(url))
        portstr = tail[1:]
    else:
        host, _, portstr = hostport.partition(':')
    if not portstr:
        return host, None
    if not (portstr.isdigit() and portstr.isascii()) or not (
            0 < int(portstr) < 65536):
        # The port is not echoed: in a malformed URL it may be a secret.
        raise exceptions.BadStoreUri('bad port in location URL %r'
                                     % redact(url))
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
        segments = (segments[0], urllib.parse.quote(key, safe='/', errors='surrogatepass'))
    netloc = host if port is None else '%s:%d' % (host, port)
    return '%s://%s/%s' % (family, netloc, '/'.join(segments))


def url_key(url):
    """A fixed-length key (32 hex digits: 128 bits of SHA-256) of
    :func:`normal_form` of *url*, for indexing; URLs that do not parse are
    keyed by their raw text.

    The catalog stores it (``locations.url_key``): a change to what it
    computes needs a migration that recomputes the column.
    """
    try:
        form = normal_form(url)
    except exceptions.BadStoreUri:
        form = None
    text = form if form is not None else 'raw:%s' % (url,)
    return hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:32]


_CONTROL_RE = re.compile('[\x00-\x1f\x7f-\x9f]')
_SURROGATE_RE = re.compile('[\ud800-\udfff]')
_UNPRINTABLE_RE = re.compile('[\x00-\x1f\x7f-\x9f\ud800-\udfff]')


def has_control(text):
    """True when *text* holds a C0 or C1 control character (NUL too)."""
    return _CONTROL_RE.search(text) is not None


def printable(text, controls=True):
    """*text* safe to print and to encode as UTF-8: lone surrogates (from
    an undecodable file name, say) and, with *controls*, control
    characters become Python escapes (``\\udcff``, ``\\x00``)."""
    pattern = _UNPRINTABLE_RE if controls else _SURROGATE_RE
    if pattern.search(text) is None:
        return text
    return pattern.sub(lambda m: ascii(m.group())[1:-1], text)


def redact(url):
    """*url* fit for messages and logs: credentials become ``***`` and a
    query (which may hold a signature) becomes ``?...``.

    Whatever the scheme, the credentials end where :func:`credential_at`
    says (the s3 rule), so a secret holding '/', ':' or '@' is hidden whole;
    for an odd URL more than the userinfo may go, never less.  Safe on
    anything: a non-URL comes back unchanged (as a string).
    """
    url = printable(str(url))
    sep = url.find('://')
    if sep < 0:
        return url
    rest = url[sep + 3:]
    query = ''
    if FAMILIES.get(url[:sep].lower()) != 's3':
        rest, query, _ = rest.partition('#')[0].partition('?')
        query = '?...' if query else ''
    at = credential_at(rest) if '@' in rest else -1
    if at < 0:
        return url[:sep + 3] + rest + query
    return '%s://***@%s%s' % (url[:sep], rest[at + 1:], query)


_TEXT_SCHEME_RE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://')
_TEXT_URL_END_RE = re.compile(r'[\s\'"<>]')
_TEXT_QUERY_RE = re.compile(r'\?[^\s\'")]+')


def redact_text(text):
    """*text* (an error message, a log line) with the credentials and query
    strings of every URL in it replaced, as :func:`redact` does for one.

    Each ``scheme://`` starts a URL that runs to the next white space or
    quote; its credentials end where :func:`credential_at` says, even when
    they hold another ``scheme://``.
    """
    text = printable(str(text), controls=False)
    if '://' in text:
        spans = []
        for m in _TEXT_SCHEME_RE.finditer(text):
            start = m.end()
            stop = _TEXT_URL_END_RE.search(text, start)
            token = text[start:stop.start() if stop else len(text)]
            at = credential_at(token) if '@' in token else -1
            if at >= 0:
                spans.append((start, start + at))
        if spans:
            text = _hide_spans(text, spans)
    return _TEXT_QUERY_RE.sub('?...', text)


def _hide_spans(text, spans):
    """*text* with each (start, end) span (they may overlap) as ``***``."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        if start < pos:                 # overlaps the span just hidden
            start = pos
        else:
            out.append(text[pos:start])
            out.append('***')
        pos = end
    out.append(text[pos:])
    return ''.join(out)


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
