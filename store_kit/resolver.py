"""The prefix index: which store owns a location URL.

Prefixes are parsed with :mod:`store_kit.location` into a network key
``(family, host, port)`` and a tuple of path segments, and stored in one trie
per network key.  A lookup parses the URL once and walks at most as many
trie nodes as the URL has path segments, so its cost does not depend on how
many stores there are.  The deepest store seen on the walk wins (longest
prefix at a segment boundary); catch-alls answer only when no prefix does.

Image URLs are a directory plus an image id, and a deployment has few
directories, so the walk over everything before the last ``/`` is memoised
(bounded, cleared when the index changes); the last segment is one more
trie step.  The memo is used only where that split is exact: a plain last
segment and no query, fragment, escape or credentials after the last ``/``.
"""

import re

from store_kit import exceptions
from store_kit import location

_OWNER = ''   # trie key holding the owning store; never a path segment
_NOBODY = (None, None)
_MEMO_LIMIT = 1 << 17
#: What a URL must not hold to be walked straight from its text.
_NOT_PLAIN = re.compile(r'[%@?#\[\]\\]')


class PrefixIndex:
    """Maps location URLs to store names by longest normalised prefix."""

    def __init__(self):
        self._tries = {}
        self._catch_all = {}
        self._prefix_of = {}
        self._memo = {}
        self._nets = {}

    def add_prefix(self, prefix, store_name):
        """Register *prefix* (a URL) as owned by *store_name*.

        Two stores with the same normalised prefix is a
        :class:`BadStoreConfiguration` naming both.
        """
        parsed = location.parse(prefix)
        if parsed.segments is None:
            raise exceptions.BadStoreConfiguration(
                store_name, None, 'URL prefix %r climbs above the root'
                % location.redact(prefix))
        netkey, segments = parsed.key
        node = self._tries.setdefault(netkey, {})
        for seg in segments:
            node = node.setdefault(seg, {})
        owner = node.get(_OWNER)
        if owner is not None and owner != store_name:
            raise exceptions.BadStoreConfiguration(
                store_name, None,
                'stores %r and %r have the same URL prefix %s'
                % (owner, store_name, self._describe(parsed)))
        node[_OWNER] = store_name
        self._memo.clear()
        self._prefix_of.setdefault(store_name, []).append(prefix)

    def add_catch_all(self, families, store_name):
        """Make *store_name* the fallback owner of every URL of *families*."""
        for family in families:
            owner = self._catch_all.get(family)
            if owner is not None and owner != store_name:
                raise exceptions.BadStoreConfiguration(
                    store_name, None,
                    'stores %r and %r are both catch-alls for %s:// URLs'
                    % (owner, store_name, family))
            self._catch_all[family] = store_name
        self._memo.clear()

    @staticmethod
    def _describe(parsed):
        return '%s://%s%s' % (parsed.family, parsed.netloc, parsed.path)

    def owners_above(self, prefix):
        """``[(store name, normalised prefix)]`` of the stores whose prefix
        is a proper ancestor of *prefix* at a segment boundary (they own
        every URL under it too), outermost first."""
        (family, host, port), segments = location.parse(prefix).key
        netloc = host if port is None else '%s:%d' % (host, port)
        node = self._tries.get((family, host, port))
        found = []
        for depth, seg in enumerate(segments or ()):
            if node is None:
                break
            owner = node.get(_OWNER)
            if owner is not None:
                found.append((owner, '%s://%s/%s' % (
                    family, netloc, '/'.join(segments[:depth]))))
            node = node.get(seg)
        return found

    def lookup(self, url):
        """Name of the store owning *url*, or ``None``.

        Malformed URLs and URLs whose ``..`` climbs out of every prefix are
        owned by nobody.
        """
        if isinstance(url, str) and '?' not in url and '#' not in url:
            cut = url.rfind('/')
            last = url[cut + 1:]
            if (last and last != '.' and last != '..' and '%' not in last
                    and '@' not in last and url.find('://') + 2 < cut):
                head = url[:cut]
                walked = self._memo.get(head)
                if walked is None:
                    walked = self._walk(head)
                    if len(self._memo) >= _MEMO_LIMIT:
                        self._memo.clear()
                    self._memo[head] = walked
                node, best = walked
                if node is not None:
                    child = node.get(last)
                    if child is not None:
                        return child.get(_OWNER) or best
                return best
        node, best = self._walk(url)
        return best

    def _walk(self, url):
        """``(deepest trie node reached or None, owner)`` for *url*.

        The owner falls back to the catch-all; both are None when nobody
        can own the URL.  A plain URL (no escape, credentials, query,
        fragment, IPv6 host or ``..``) is walked straight from its text,
        its ``scheme://host:port`` part parsed once per spelling; anything
        else is parsed in full first.
        """
        parts = url.split('/') if isinstance(url, str) else ()
        if len(parts) > 2 and not parts[1] and not _NOT_PLAIN.search(url):
            netkey = self._nets.get((parts[0], parts[2]))
            if netkey is None:
                netkey = self._net_of(parts[0], parts[2])
            if netkey is not _NOBODY:
                return self._walk_segments(netkey, parts, 3)
            return _NOBODY
        return self._walk_parsed(url)

    def _walk_parsed(self, url):
        try:
            netkey, segments = location.match_key(url)
        except exceptions.BadStoreUri:
            return _NOBODY
        if segments is None:
            return _NOBODY
        return self._walk_segments(netkey, segments, 0)

    def _walk_segments(self, netkey, parts, start):
        """The trie walk over path segments *parts* from index *start*: raw
        ones are accepted too ('' and '.' skipped as normalisation would;
        a '..' sends the whole URL through the parser)."""
        node = self._tries.get(netkey)
        best = None
        if node is not None:
            best = node.get(_OWNER)
            for i in range(start, len(parts)):
                seg = parts[i]
                if not seg or seg == '.':
                    continue
                if seg == '..':
                    return self._walk_parsed('/'.join(parts))
                child = node.get(seg)
                if child is None:
                    node = None
                    break
                node = child
                owner = node.get(_OWNER)
                if owner is not None:
                    best = owner
        if best is None:
            best = self._catch_all.get(netkey[0])
        return node, best

    def _net_of(self, scheme, hostport):
        """The network key of ``scheme//hostport`` (*scheme* ends with
        ':'), remembered per spelling; _NOBODY when it does not parse."""
        try:
            netkey, _ = location.match_key('%s//%s/' % (scheme, hostport))
        except exceptions.BadStoreUri:
            netkey = _NOBODY
        if len(self._nets) >= _MEMO_LIMIT:
            self._nets.clear()
        self._nets[(scheme, hostport)] = netkey
        return netkey
