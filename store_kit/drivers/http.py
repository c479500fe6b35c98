"""The http store: read-only access to images served over http(s).

Policies (see ``doc/drivers.md``):

* TLS is verified by default; every request has a connect/read timeout.
* Redirects are followed by hand, at most ``http_max_redirects`` of them; a
  loop raises :class:`MaxRedirectsExceeded`.  Once on https a redirect may
  not go back to http.  A store with prefixes follows a redirect only to
  the URL's own host, under its own prefixes, or to a host listed in
  ``http_redirect_allowed_hosts`` (mirrors, CDNs); credentials from the
  location URL are only ever sent to its own host (and to that host's
  https when redirected there from http on the default ports); credentials
  in a ``Location`` header are ignored.
* Sizes are never guessed: a missing Content-Length is replaced by a ranged
  ``bytes=0-0`` probe and its Content-Range, or raises a clear error.  A body
  shorter (or longer) than announced raises :class:`SizeMismatch`.
* Bytes are passed on exactly as served: ``Accept-Encoding: identity`` is
  requested and no Content-Encoding is undone.
* A store with ``http_store_url_prefixes`` reads only URLs under them; a store
  without is the catch-all for http and https URLs.
* URLs in errors and logs lose their credentials and their query string
  (which often carries a signature).
"""

import http
import importlib.metadata
import logging
import math
import os
import re
import urllib.parse

import requests
import urllib3
from oslo_config import cfg

from store_kit import driver
from store_kit import exceptions
from store_kit import location

LOG = logging.getLogger(__name__)

OPTIONS = [
    cfg.ListOpt('http_store_url_prefixes', default=[],
                help='URL prefixes this store owns, comma-separated, e.g. '
                     '"https://images.example.com/pub". Each must be an '
                     'http(s) URL without credentials, query or fragment; '
                     'ownership is decided at path-segment boundaries, and '
                     'http and https are distinct. The store reads only URLs '
                     'under its prefixes. Leave empty to make this store '
                     'the catch-all for every http:// and https:// URL no '
                     'other store owns (at most one such store).'),
    cfg.BoolOpt('https_insecure', default=False,
                help='Skip verification of the server TLS certificate. '
                     'Unsafe: anyone on the path can serve other bytes. '
                     'When true, https_ca_certificates_file is ignored.'),
    cfg.StrOpt('https_ca_certificates_file',
               help='PEM file of CA certificates to verify https servers '
                    'with, instead of the system/certifi bundle.'),
    cfg.DictOpt('http_proxy_information', default={}, secret=True,
                help='Proxies by URL scheme, as scheme:proxy-URL pairs, e.g. '
                     '"http:http://proxy:3128, https:http://proxy:3128". '
                     'Keys are http, https or all. These win over the '
                     'HTTP_PROXY/HTTPS_PROXY environment variables.'),
    cfg.FloatOpt('http_timeout', default=30.0,
                 help='Seconds to wait to connect, and then for each read of '
                      'the response, before giving up (> 0). Not a limit on '
                      'the whole download.'),
    cfg.IntOpt('http_max_redirects', default=5, min=0,
               help='Redirects followed per request (301, 302, 303, 307, '
                    '308) before failing. 0 follows none.'),
    cfg.ListOpt('http_redirect_allowed_hosts', default=[],
                help='Hosts (host or host:port) a redirect may lead to '
                     'besides the URL\'s own host and the store\'s own '
                     'prefixes, e.g. a CDN. "*" allows any host. A store '
                     'without prefixes (the catch-all) may follow any '
                     'host.'),
]

REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))
CHUNK_SIZE = 64 * 1024
#: Timeout (seconds) of check_reachable's probes, capped by http_timeout.
REACHABLE_TIMEOUT = 5.0
_SCHEMES = ('http', 'https')
#: urllib3 logs request lines, signed query strings included.
_LOG_FAMILIES = ('urllib3',)
_DEFAULT_PORT = {'http': 80, 'https': 443}
_CONTENT_RANGE_RE = re.compile(
    r'^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$', re.IGNORECASE)
_OBJECT_REPR_RE = re.compile(r'<[^<>]* object at 0x[0-9a-fA-F]+>:?\s*')


try:
    _USER_AGENT = 'store_kit/%s' % importlib.metadata.version('store_kit')
except importlib.metadata.PackageNotFoundError:  # pragma: no cover
    _USER_AGENT = 'store_kit'


def parse_content_range(value):
    """``(start, end, total)`` of a ``bytes`` Content-Range header.

    ``start``/``end`` are None for ``bytes */total``; ``total`` is None for
    ``/*``.  Returns None when *value* is missing or malformed.
    """
    m = _CONTENT_RANGE_RE.match(value or '')
    if not m:
        return None
    start, end, total = m.groups()
    start = None if start is None else int(start)
    end = None if end is None else int(end)
    total = None if total == '*' else int(total)
    if start is not None and (end < start or (total is not None
                                              and end >= total)):
        return None
    return start, end, total


def _content_length(resp):
    value = resp.headers.get('Content-Length')
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


class HttpLocation(location.StoreLocation):
    """An ``http(s)://`` location.

    ``url`` is what is requested: the URL as given (raw path and query kept)
    without credentials or fragment.  ``auth`` is ``(user, password)`` from
    the URL, or None.
    """

    def __init__(self, store_name, parsed, request_url, auth=None):
        super().__init__(store_name, parsed)
        self.request_url = request_url
        self.auth = auth

    @classmethod
    def from_url(cls, url, store_name=None):
        parsed = location.parse(url)
        if parsed.scheme not in _SCHEMES:
            raise exceptions.BadStoreUri(
                'not an http(s) URL: %s' % location.redact(url))
        if not parsed.host:
            raise exceptions.BadStoreUri('no host in URL %s'
                                         % location.redact(url))
        try:
            split = urllib.parse.urlsplit(url)
        except ValueError:
            raise exceptions.BadStoreUri('malformed URL %s'
                                         % location.redact(url)) from None
        hostport = split.netloc.rpartition('@')[2]
        request_url = urllib.parse.urlunsplit(
            (parsed.scheme, hostport, split.path or '/', split.query, ''))
        auth = None
        if parsed.username is not None:
            auth = (_auth_bytes(parsed.username),
                    _auth_bytes(parsed.password or ''))
        return cls(store_name, parsed, request_url, auth)

    @property
    def url(self):
        return self.request_url


def _auth_bytes(text):
    """A user name or password of a URL as Basic auth sends it: each
    percent-escape is one octet, other characters UTF-8 (RFC 3986/7617)."""
    return urllib.parse.unquote_to_bytes(text)


def _site(url):
    """(scheme, host, effective port) of an http(s) URL."""
    split = urllib.parse.urlsplit(url)
    scheme = split.scheme.lower()
    try:
        port = split.port
    except ValueError:
        port = None
    return scheme, (split.hostname or ''), port or _DEFAULT_PORT.get(scheme)


def _same_site(origin, url):
    """Whether credentials meant for *origin* may be sent to *url*.

    Same scheme, host and port; or the same host moved from http on port 80
    to https on port 443.
    """
    o, u = _site(origin), _site(url)
    if o == u:
        return True
    return (o[1] == u[1] and o[0] == 'http' and o[2] == 80
            and u[0] == 'https' and u[2] == 443)


def _clean_target(url):
    """A redirect target without credentials or fragment, with the scheme
    and host lower-cased and a default port dropped."""
    split = urllib.parse.urlsplit(url)
    scheme = split.scheme.lower()
    hostport = split.netloc.rpartition('@')[2].lower()
    host, colon, port = hostport.rpartition(':')
    if colon and ']' not in port and port == str(_DEFAULT_PORT.get(scheme)):
        hostport = host
    return urllib.parse.urlunsplit((scheme, hostport, split.path or '/',
                                    split.query, ''))


def _empty():
    yield from ()


def _status_text(code):
    try:
        return '%d %s' % (code, http.HTTPStatus(code).phrase)
    except ValueError:
        return str(code)


class HttpStore(driver.Store):
    """Read images from http(s) servers."""

    driver_name = 'http'
    schemes = _SCHEMES
    options = OPTIONS
    capabilities = driver.Capabilities.READ | driver.Capabilities.READ_OFFSET
    location_class = HttpLocation

    # -- configuration -----------------------------------------------------

    def configure(self):
        driver.filter_logs(_LOG_FAMILIES)
        group = self.group
        timeout = group.http_timeout
        if timeout is None or not math.isfinite(timeout) or timeout <= 0:
            raise self.bad_option('http_timeout',
                                  'must be a number of seconds > 0, got %r'
                                  % (timeout,))
        self.timeout = float(timeout)
        redirects = group.http_max_redirects
        if redirects is None or redirects < 0:
            raise self.bad_option('http_max_redirects',
                                  'must be an integer >= 0, got %r'
                                  % (redirects,))
        self.max_redirects = redirects
        self.redirect_hosts = {h.strip().lower()
                               for h in group.http_redirect_allowed_hosts or []
                               if h.strip()}
        self.verify = self._configure_tls(group)
        self.proxies = self._configure_proxies(group)
        self._configure_prefixes(group)
        self.session = requests.Session()
        self.session.headers['User-Agent'] = _USER_AGENT

    def _configure_tls(self, group):
        cafile = group.https_ca_certificates_file
        if group.https_insecure:
            if cafile:
                LOG.warning('store %s: https_insecure is true, so '
                            'https_ca_certificates_file %s is ignored',
                            self.name, cafile)
            LOG.warning('store %s: TLS certificates are NOT verified '
                        '(https_insecure = true)', self.name)
            return False
        if cafile:
            if not os.path.isfile(cafile) or not os.access(cafile, os.R_OK):
                raise self.bad_option('https_ca_certificates_file',
                                      'no readable file at %r' % cafile)
            return cafile
        return True

    def _configure_proxies(self, group):
        proxies = {}
        for key, value in (group.http_proxy_information or {}).items():
            key = key.strip().lower()
            value = (value or '').strip()
            if key not in ('http', 'https', 'all'):
                raise self.bad_option(
                    'http_proxy_information',
                    'unknown scheme %r (use http, https or all)' % key)
            split = urllib.parse.urlsplit(value)
            if '://' not in value or not split.hostname:
                shown = '' if '@' in value else ': %r' % value
                raise self.bad_option(
                    'http_proxy_information',
                    'proxy for %s is not a URL like http://proxy:3128%s'
                    % (key, shown))
            proxies[key] = value
        return proxies

    def _configure_prefixes(self, group):
        prefixes = [p.strip() for p in group.http_store_url_prefixes or []
                    if p and p.strip()]
        if not prefixes:
            self.catch_all_families = _SCHEMES
            self.url_prefixes = ['http://', 'https://']
            return
        self.catch_all_families = ()
        seen = {}
        for prefix in prefixes:
            parsed = self._check_prefix(prefix)
            if parsed.key in seen:
                raise self.bad_option(
                    'http_store_url_prefixes',
                    'prefixes %s and %s are the same'
                    % (seen[parsed.key], location.redact(prefix)))
            seen[parsed.key] = location.redact(prefix)
        self.url_prefixes = prefixes

    def _check_prefix(self, prefix):
        def bad(reason):
            return self.bad_option('http_store_url_prefixes',
                                   '%r %s' % (location.redact(prefix), reason))
        scheme, sep, _ = prefix.partition('://')
        if not sep or scheme.lower() not in _SCHEMES:
            raise bad('is not an http:// or https:// URL')
        try:
            parsed = location.parse(prefix)
        except exceptions.BadStoreUri as exc:
            raise bad('is not a valid URL (%s)' % exc)
        if not parsed.host:
            raise bad('has no host')
        if parsed.username is not None:
            raise bad('has credentials; put them in the location URLs, '
                      'never in a prefix')
        if parsed.query or '?' in prefix:
            raise bad('has a query string')
        if '#' in prefix:
            raise bad('has a fragment')
        if parsed.segments is None:
            raise bad('climbs above the root with ..')
        return parsed

    # -- locations ---------------------------------------------------------

    def close(self):
        """Close the connection pool of this store."""
        self.session.close()

    # -- requests ----------------------------------------------------------

    def _send(self, method, url, auth, headers, stream, timeout):
        """One request, no redirects; transport errors -> RemoteUnreachable."""
        shown = location.redact(url)
        # ``from None``: the requests error's text holds the query string.
        try:
            return self.session.request(
                method, url, headers=headers, auth=auth, stream=stream,
                timeout=(timeout, timeout), allow_redirects=False,
                verify=self.verify, proxies=self.proxies)
        except requests.exceptions.Timeout:
            raise exceptions.RemoteUnreachable(
                '%s %s: no answer within %gs (http_timeout of store %r)'
                % (method, shown, timeout, self.name)) from None
        except requests.exceptions.SSLError as exc:
            raise exceptions.RemoteUnreachable(
                '%s %s: TLS error (%s); check https_ca_certificates_file of '
                'store %r' % (method, shown, self._reason(exc),
                              self.name)) from None
        except requests.exceptions.ConnectionError as exc:
            raise exceptions.RemoteUnreachable(
                '%s %s: cannot connect (%s)'
                % (method, shown, self._reason(exc))) from None
        except requests.exceptions.RequestException as exc:
            raise exceptions.BackendError(
                '%s %s failed: %s'
                % (method, shown, self._reason(exc))) from None

    @staticmethod
    def _reason(exc):
        """A short, secret-free description of a transport error."""
        cause = exc
        inner = getattr(exc.args[0] if exc.args else None, 'reason', None)
        if isinstance(inner, BaseException):    # urllib3 MaxRetryError
            cause = inner
        text = _OBJECT_REPR_RE.sub('', str(cause))
        return location.redact_text('%s: %s' % (type(cause).__name__, text))[:300]

    def _request(self, method, loc, headers=None, stream=False,
                 timeout=None, accept=()):
        """Send *method* for *loc*, following redirects by hand.

        Returns ``(response, final url)``.  Error statuses other than those
        in *accept* are raised.
        """
        timeout = self.timeout if timeout is None else timeout
        headers = dict(headers or {})
        headers.setdefault('Accept-Encoding', 'identity')
        origin = url = loc.request_url
        seen = {_clean_target(url)}
        hops = 0
        while True:
            auth = loc.auth if loc.auth and _same_site(origin, url) else None
            resp = self._send(method, url, auth, headers, stream, timeout)
            if resp.status_code not in REDIRECT_CODES:
                break
            target = resp.headers.get('Location')
            resp.close()
            url = self._next_hop(method, loc, url, resp.status_code, target,
                                 hops, seen)
            hops += 1
        if resp.status_code >= 400 and resp.status_code not in accept:
            resp.close()
            self._raise_status(method, loc, url, resp.status_code)
        return resp, url

    def _next_hop(self, method, loc, url, code, target, hops, seen):
        where = location.redact(loc.request_url)
        if url != loc.request_url:
            where += ' (redirected to %s)' % location.redact(url)
        if not target:
            raise exceptions.BackendError(
                '%s %s: HTTP %s without a Location header'
                % (method, where, _status_text(code)), code=code)
        new = urllib.parse.urljoin(url, target.strip())
        scheme = urllib.parse.urlsplit(new).scheme.lower()
        if scheme not in _SCHEMES:
            raise exceptions.BackendError(
                '%s %s: refused redirect to non-http URL %s'
                % (method, where, location.redact(new)), code=code)
        if urllib.parse.urlsplit(url).scheme.lower() == 'https' and (
                scheme == 'http'):
            raise exceptions.BackendError(
                '%s %s: refused redirect from https to http (%s)'
                % (method, where, location.redact(new)), code=code)
        new = _clean_target(new)
        if not self._redirect_allowed(loc.request_url, new):
            raise exceptions.BackendError(
                '%s %s: refused redirect to another host, %s (allow it with '
                'http_redirect_allowed_hosts of store %r)'
                % (method, where, location.redact(new), self.name),
                code=code)
        if new in seen:
            raise exceptions.MaxRedirectsExceeded(
                '%s %s: redirect loop back to %s'
                % (method, where, location.redact(new)), code=code)
        if hops >= self.max_redirects:
            raise exceptions.MaxRedirectsExceeded(
                '%s %s: more than %d redirect(s) (http_max_redirects of '
                'store %r)' % (method, where, self.max_redirects, self.name),
                code=code)
        seen.add(new)
        LOG.debug('%s %s: HTTP %d to %s', method, where, code,
                  location.redact(new))
        return new

    def _redirect_allowed(self, original, target):
        """Same host, one of our prefixes, or an allowed host."""
        if self.catch_all_families or '*' in self.redirect_hosts:
            return True
        (_, host, port), _ = location.match_key(target)
        (_, ohost, oport), _ = location.match_key(original)
        if (host, port) == (ohost, oport):
            return True
        netloc = host if port is None else '%s:%d' % (host, port)
        if netloc in self.redirect_hosts:
            return True
        return self.owns(target)

    def _raise_status(self, method, loc, url, code):
        where = location.redact(loc.request_url)
        if url != loc.request_url:
            where += ' (redirected to %s)' % location.redact(url)
        status = _status_text(code)
        if code in (404, 410):
            raise exceptions.NotFound('%s not found (HTTP %s)'
                                      % (where, status))
        if code in (401, 403):
            raise exceptions.Forbidden('%s %s refused: HTTP %s'
                                       % (method, where, status))
        raise exceptions.BackendError('%s %s failed: HTTP %s'
                                      % (method, where, status), code=code)

    # -- data --------------------------------------------------------------

    def _get(self, loc, offset, length):
        if length == 0:
            driver.range_size(self._get_size(loc), offset, 0)
            return driver.ChunkIterator(_empty()), 0
        headers = {}
        if offset or length is not None:
            headers['Range'] = driver.range_header(offset, length)
        resp, url = self._request('GET', loc, headers, stream=True,
                                  accept=(416,) if headers else ())
        try:
            skip, size, check_end = self._plan(loc, resp, url, offset, length)
        except BaseException:
            resp.close()
            raise
        if skip:
            LOG.debug('GET %s: server ignored Range; skipping %d bytes',
                      location.redact(url), skip)
        gen = self._stream(resp, url, skip, size, check_end)
        return driver.ChunkIterator(gen, resp.close), size

    def _plan(self, loc, resp, url, offset, length):
        """``(bytes to skip, bytes to yield, check nothing follows)``."""
        shown = location.redact(url)
        code = resp.status_code
        if code == 206:
            cr = parse_content_range(resp.headers.get('Content-Range'))
            if cr is None or cr[0] is None:
                raise exceptions.BackendError(
                    'GET %s: HTTP 206 without a valid Content-Range (%r)'
                    % (shown, resp.headers.get('Content-Range')), code=code)
            start, end, total = cr
            if start != offset:
                raise exceptions.BackendError(
                    'GET %s: asked for bytes from %d, server sent %d-%d'
                    % (shown, offset, start, end), code=code)
            sent = end - start + 1
            at_end = total is not None and end + 1 == total
            if length is None:
                short = total is not None and not at_end
            else:
                short = sent < length and not at_end
            if short:
                raise exceptions.BackendError(
                    'GET %s: asked for %s, server sent only bytes %d-%d of %s'
                    % (shown, driver.range_header(offset, length), start, end,
                       total if total is not None else 'unknown'), code=code)
            return 0, sent if length is None else min(sent, length), False
        if code == 416:
            cr = parse_content_range(resp.headers.get('Content-Range'))
            total = cr[2] if cr else None
            if total is not None and offset == total:
                return 0, 0, False
            raise exceptions.Invalid(
                'offset %d is past the end of %s (%s bytes)'
                % (offset, shown, total if total is not None else 'unknown'))
        if code != 200:
            raise exceptions.BackendError(
                'GET %s: unexpected HTTP %s' % (shown, _status_text(code)),
                code=code)
        total = _content_length(resp)
        check_end = False
        if total is None:
            total = self._get_size(loc)
            check_end = length is None
        return offset, driver.range_size(total, offset, length), check_end

    def _stream(self, resp, url, skip, size, check_end):
        """Yield *size* bytes after *skip*; SizeMismatch if the body is short
        (or, with *check_end*, longer)."""
        got = 0
        what = 'data from %s' % location.redact(url)
        try:
            if size == 0 and not check_end:
                return
            for chunk in resp.raw.stream(CHUNK_SIZE, decode_content=False):
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                if got >= size:
                    if chunk:
                        raise exceptions.SizeMismatch(
                            size, 'more than %d' % size, what=what)
                    continue
                if check_end and len(chunk) > size - got:
                    raise exceptions.SizeMismatch(
                        size, 'more than %d' % size, what=what)
                chunk = chunk[:size - got]
                got += len(chunk)
                yield chunk
                if got >= size and not check_end:
                    return
        except urllib3.exceptions.ReadTimeoutError:
            raise exceptions.RemoteUnreachable(
                'GET %s: no data for %gs after %d bytes (http_timeout of '
                'store %r)' % (location.redact(url), self.timeout, got,
                               self.name))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            LOG.debug('GET %s: body ended early: %s', location.redact(url),
                      location.redact_text(exc))
            raise exceptions.SizeMismatch(
                size, '%d (connection closed early)' % got, what=what)
        finally:
            resp.close()
        if got < size:
            raise exceptions.SizeMismatch(size, got, what=what)

    def _get_size(self, loc):
        resp, url = self._request_size('HEAD', loc)
        if resp is not None:
            resp.close()
            size = _content_length(resp)
            if resp.status_code == 200 and size is not None:
                return size
        resp, url = self._request('GET', loc, {'Range': 'bytes=0-0'},
                                  stream=True, accept=(416,))
        resp.close()
        cr = parse_content_range(resp.headers.get('Content-Range'))
        if resp.status_code in (206, 416) and cr and cr[2] is not None:
            return cr[2]
        if resp.status_code == 200 and _content_length(resp) is not None:
            return _content_length(resp)
        raise exceptions.BackendError(
            'cannot tell the size of %s: the server sends no Content-Length '
            'and no Content-Range' % location.redact(url))

    def _request_size(self, method, loc):
        """HEAD *loc*; ``(None, url)`` if the server does not allow HEAD."""
        try:
            return self._request(method, loc)
        except exceptions.BackendError as exc:
            if exc.code in (405, 501):
                return None, loc.request_url
            raise

    # -- health ------------------------------------------------------------

    def check_reachable(self):
        """HEAD each prefix; any HTTP answer means reachable.  Never raises."""
        if self.catch_all_families:
            return True, ''
        timeout = min(self.timeout, REACHABLE_TIMEOUT)
        problems = []
        for prefix in self.url_prefixes:
            try:
                loc = HttpLocation.from_url(prefix, self.name)
                resp = self._send('HEAD', loc.request_url, None,
                                  {'Accept-Encoding': 'identity'}, False,
                                  timeout)
                resp.close()
            except exceptions.StoreKitError as exc:
                problems.append(str(exc))
            except Exception as exc:  # never raise from a health check
                problems.append('%s: %s' % (location.redact(prefix),
                                            self._reason(exc)))
        if problems:
            return False, '; '.join(problems)
        return True, ''
