"""Row helpers: timestamps, value validation and row-to-dict conversion."""

import datetime

import sqlalchemy as sa

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import models

_INT_COLUMNS = ('size', 'virtual_size', 'min_disk', 'min_ram')
_BOOL_COLUMNS = ('protected', 'os_hidden')
_TIME_COLUMNS = ('created_at', 'updated_at')
_CHOICES = {'status': models.IMAGE_STATUSES, 'visibility': models.VISIBILITIES}
_IMAGE_DEFAULTS = {'status': 'queued', 'visibility': 'shared', 'min_disk': 0,
                   'min_ram': 0, 'protected': False, 'os_hidden': False,
                   'deleted': False}


def utcnow():
    """Naive UTC now, microsecond precision (what every engine stores)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def check_keys(what, values, allowed, extra=()):
    """Invalid naming every key of ``values`` outside ``allowed``/``extra``."""
    unknown = sorted(set(values) - set(allowed) - set(extra))
    if unknown:
        raise exceptions.Invalid('unknown %s field%s: %s' % (
            what, 's' if len(unknown) > 1 else '', ', '.join(unknown)))


def image_values(values, create):
    """Validate image column values; on create, fill the defaults."""
    row = dict(_IMAGE_DEFAULTS) if create else {}
    for key, value in values.items():
        if key in _CHOICES and value not in _CHOICES[key]:
            raise exceptions.Invalid('unknown image %s %r (one of %s)'
                                     % (key, value, ', '.join(_CHOICES[key])))
        if key in _INT_COLUMNS and value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise exceptions.Invalid('image %s must be a non-negative integer, not %r'
                                         % (key, value))
        if key in ('min_disk', 'min_ram') and value is None:
            value = 0
        if key in _BOOL_COLUMNS and not isinstance(value, bool):
            raise exceptions.Invalid('image %s must be a boolean, not %r' % (key, value))
        if key in _TIME_COLUMNS and not isinstance(value, datetime.datetime):
            raise exceptions.Invalid('image %s must be a datetime, not %r' % (key, value))
        if key == 'id' and not (isinstance(value, str) and 0 < len(value) <= 36):
            raise exceptions.Invalid('bad image id %r' % (value,))
        _check_string(key, value)
        row[key] = value
    return row


def _check_string(key, value):
    """Strings fit their column on every engine (SQLite would not complain)."""
    col = models.images.c.get(key)
    if value is None or col is None or not isinstance(col.type, sa.String):
        return
    if not isinstance(value, str):
        raise exceptions.Invalid('image %s must be a string, not %r' % (key, value))
    if col.type.length and len(value) > col.type.length:
        raise exceptions.Invalid('image %s is longer than %d characters: %r...'
                                 % (key, col.type.length, value[:40]))


def location_dict(row):
    """A location row as a dict (the real URL: see :func:`for_caller`)."""
    return {'id': row.id, 'url': row.url, 'metadata': dict(row.meta_data or {}),
            'status': row.status}


def reveals_secrets(ctx):
    """Whether ``ctx`` may see the secrets in location URLs: admins only."""
    return ctx is not None and ctx.is_admin


def for_caller(ctx, images=(), locations=()):
    """Redact (in place) the location URLs of ``images`` and ``locations``
    unless ``ctx`` is an admin: credentials and query strings are secrets."""
    if reveals_secrets(ctx):
        return
    for image in images:
        for loc in image.get('locations', ()):
            loc['url'] = loc_mod.redact(loc['url'])
    for loc in locations:
        loc['url'] = loc_mod.redact(loc['url'])


def looks_redacted(url):
    """True for a URL in :func:`store_kit.location.redact`'s output form
    (``***`` credentials or a ``?...`` query): never stored as a new URL."""
    return '://***@' in url or url.endswith('?...')


def member_dict(row):
    """A member row as a plain dict."""
    return {k: row._mapping[k] for k in models.members.c.keys()}
