"""Row helpers: timestamps, value validation and row-to-dict conversion."""

import datetime

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import models, values

#: integer columns and their bounds (caller values are never negative)
_INT_COLUMNS = {'size': values.BIGINT[1], 'virtual_size': values.BIGINT[1],
                'min_disk': values.INTEGER[1], 'min_ram': values.INTEGER[1]}
_BOOL_COLUMNS = ('protected', 'os_hidden')
_TIME_COLUMNS = ('created_at', 'updated_at')
_CHOICES = {'status': models.IMAGE_STATUSES, 'visibility': models.VISIBILITIES}
_IMAGE_DEFAULTS = {'status': 'queued', 'visibility': 'shared', 'min_disk': 0,
                   'min_ram': 0, 'protected': False, 'os_hidden': False,
                   'deleted': False}


def utcnow():
    """Naive UTC now, microsecond precision (what every engine stores)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def check_keys(what, given, allowed, extra=()):
    """Invalid naming every key of ``given`` outside ``allowed``/``extra``."""
    unknown = sorted(k if isinstance(k, str) and k.isprintable() and len(k) <= 60
                     else values.shown(k) for k in set(given) - set(allowed) - set(extra))
    if unknown:
        raise exceptions.Invalid('unknown %s field%s: %s' % (
            what, 's' if len(unknown) > 1 else '', ', '.join(unknown)))


def choice(what, value, choices):
    """``value`` if it is one of ``choices``, else Invalid naming both."""
    if not isinstance(value, str) or value not in choices:
        raise exceptions.Invalid('unknown %s %s (one of %s)'
                                 % (what, values.shown(value), ', '.join(choices)))
    return value


def image_values(given, create):
    """Validate image column values; on create, fill the defaults."""
    row = dict(_IMAGE_DEFAULTS) if create else {}
    for key, value in given.items():
        field = 'image %s' % key
        if key in _CHOICES:
            value = choice(field, value, _CHOICES[key])
        elif key in _INT_COLUMNS:
            if key in ('min_disk', 'min_ram') and value is None:
                value = 0
            value = values.integer(field, value, 0, _INT_COLUMNS[key], nullable=True)
        elif key in _BOOL_COLUMNS:
            if not isinstance(value, bool):
                raise exceptions.Invalid('%s must be a boolean, not %s'
                                         % (field, values.shown(value)))
        elif key in _TIME_COLUMNS:
            value = values.timestamp(field, value)
        elif key == 'id':
            value = values.text(field, value, max_length=36, empty=False)
        elif key == 'checksum':
            value = values.checksum(field, value, nullable=True)
        else:
            col = models.images.c[key]
            value = values.text(field, value, max_length=col.type.length, nullable=True)
        row[key] = value
    return row


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
