"""Checks of the values callers hand to the catalog, before any I/O.

Every string must be storable on every engine (UTF-8 encodable, so no lone
surrogate, and no NUL, which PostgreSQL refuses), every integer must fit its
column on every engine (SQLite raises OverflowError past 64 bits), location
metadata must be JSON. Anything else is :class:`~store_kit.exceptions.Invalid`
naming the field and the value (shortened, URLs redacted), never a driver
error.
"""

import datetime
import json
import uuid

from store_kit import exceptions
from store_kit import location as loc_mod

#: inclusive bounds of the engines' BIGINT and INTEGER columns
BIGINT = (-2 ** 63, 2 ** 63 - 1)
INTEGER = (-2 ** 31, 2 ** 31 - 1)
#: A URL is stored in a TEXT column: MariaDB's holds 65535 bytes, 4 per character.
URL_MAX = 16383
#: Bounds of durations given in seconds (leases, retries, ages: about 31 years).
SECONDS_MAX = 10 ** 9
_SHOWN_MAX = 60
_HEX = frozenset('0123456789abcdefABCDEF')


def shown(value, secret=False):
    """``value`` fit for a message: a short repr (ASCII-safe escapes for
    unprintable characters), a URL's secrets redacted, a type for objects."""
    if isinstance(value, str):
        text = repr(loc_mod.redact(value) if secret else value)
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        text = repr(value)
    elif isinstance(value, int):
        if value.bit_length() > 128:
            return 'an integer of %d bits' % value.bit_length()
        text = repr(value)
    else:
        return 'a %s' % type(value).__name__
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX - 3] + '...'


def text(field, value, max_length=None, empty=True, secret=False, nullable=False):
    """``value`` if it is a string every engine stores as given."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise exceptions.Invalid('%s must be a string, not %s' % (field, shown(value)))
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        raise exceptions.Invalid('%s %s is not valid text (a lone surrogate)'
                                 % (field, shown(value, secret))) from None
    if '\x00' in value:
        raise exceptions.Invalid('%s %s holds a NUL character' % (field, shown(value, secret)))
    if not empty and not value:
        raise exceptions.Invalid('%s must not be empty' % (field,))
    if max_length is not None and len(value) > max_length:
        raise exceptions.Invalid('%s is longer than %d characters: %s'
                                 % (field, max_length, shown(value, secret)))
    return value


def integer(field, value, low=BIGINT[0], high=BIGINT[1], nullable=False):
    """``value`` if it is an integer (not a bool) within ``[low, high]``."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise exceptions.Invalid('%s must be an integer, not %s' % (field, shown(value)))
    if not low <= value <= high:
        raise exceptions.Invalid('%s %s is out of range (%d to %d)'
                                 % (field, shown(value), low, high))
    return value


def number(field, value, low, high):
    """An int or float within ``[low, high]`` (NaN refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not low <= value <= high:
        raise exceptions.Invalid('%s must be a number from %s to %s, not %s'
                                 % (field, low, high, shown(value)))
    return value


def checksum(field, value, nullable=False):
    """An MD5 hex digest: 32 hex digits in either case, returned in lower case
    (so equality is the same on every engine, whatever its collation)."""
    value = text(field, value, nullable=nullable)
    if value is None:
        return None
    if len(value) != 32 or any(c not in _HEX for c in value):
        raise exceptions.Invalid('%s %s is not 32 hex digits (an MD5 digest)'
                                 % (field, shown(value)))
    return value.lower()


def image_id(value, field='image id'):
    """An image id to look up: a string (or a ``uuid.UUID``)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    return text(field, value)


def location_id(value):
    """A location id: an integer within the column."""
    return integer('location id', value, 1, INTEGER[1])


def url(field, value):
    """A location URL: storable text, not empty, at most URL_MAX characters."""
    return text(field, value, max_length=URL_MAX, empty=False, secret=True)


def seconds(field, value, low=0):
    """A duration in seconds (int or float) from ``low`` to SECONDS_MAX."""
    return number(field, value, low, SECONDS_MAX)


def cutoff(field, older_than, now):
    """The time ``older_than`` names: a datetime, or seconds before ``now``."""
    if isinstance(older_than, datetime.datetime):
        return timestamp(field, older_than)
    return now - datetime.timedelta(seconds=seconds(field, older_than, low=-SECONDS_MAX))


def sequence(field, value):
    """Any iterable but a string or a mapping, as a list."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, '__iter__'):
        raise exceptions.Invalid('%s must be a list, not %s' % (field, shown(value)))
    return list(value)


def image_ids(value, field='image ids'):
    """One image id or a list of them, as a list."""
    if isinstance(value, (str, uuid.UUID)):
        return [image_id(value, field)]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise exceptions.Invalid('%s must be a list of ids, not %s' % (field, shown(value)))
    return [image_id(v, field) for v in value]


def mapping(field, value, nullable=False):
    """``value`` as a dict (None gives {} when ``nullable``)."""
    if value is None and nullable:
        return {}
    if not isinstance(value, dict):
        raise exceptions.Invalid('%s must be a dict, not %s' % (field, shown(value)))
    return dict(value)


def timestamp(field, value, nullable=False):
    """A datetime as naive UTC (what every engine stores)."""
    if value is None and nullable:
        return None
    if not isinstance(value, datetime.datetime):
        raise exceptions.Invalid('%s must be a datetime, not %s' % (field, shown(value)))
    if value.tzinfo is not None:
        try:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise exceptions.Invalid('%s %s is out of range' % (field, value)) from None
    if value.year < 1000:      # MariaDB's DATETIME starts at year 1000
        raise exceptions.Invalid('%s %s is before the year 1000' % (field, value))
    return value


def json_dict(field, value):
    """``value`` (a dict) if it serialises to JSON every engine stores."""
    value = mapping(field, value, nullable=True)
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise exceptions.Invalid('%s is not JSON: %s' % (field, _short(exc))) from None
    decoded = json.loads(encoded)       # what every engine will give back
    for string in _strings(decoded):
        text('%s string' % field, string)
    return decoded


def _strings(value):
    """Every string (keys too) in a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def caller(ctx):
    """Check the caller's project id (it takes part in queries)."""
    owner = getattr(ctx, 'owner', None)
    if owner is not None:
        text('project', owner)
    return ctx


def _short(exc):
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return message if len(message) <= _SHOWN_MAX else message[:_SHOWN_MAX - 3] + '...'
