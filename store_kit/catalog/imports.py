"""Bulk import of whole images, rows kept as given (mixin of
:class:`store_kit.catalog.Catalog`): the write path of ``store-kit glance
import``.

:meth:`ImportsMixin.import_images` takes plain rows: each image a dict of
image columns (``id``, ``owner``, ``status``, ``visibility``, hashes,
``created_at``, ``updated_at``, ``deleted``, ``deleted_at`` ...) with
``properties``, ``tags``, ``members`` and ``locations`` lists of row dicts
(see :data:`CHILD_KEYS`).  Every value is checked the way the per-image API
checks it (:mod:`~store_kit.catalog.values`, :func:`~store_kit.catalog.rows.image_values`,
:func:`~store_kit.catalog.properties.property_items`,
:func:`~store_kit.catalog.locations.location_entry`), and the images that
pass are written with their children in one transaction, exactly as given:
ids, owners, statuses, visibility, hashes, timestamps, deleted flags,
member statuses, location statuses and metadata.  Child rows get the
catalog's own ids.

An image whose id is already in the catalog is skipped (so an interrupted
import, run again, continues and never duplicates); an image holding a
value the catalog cannot store is refused with the reason, never altered.
No permission checks: this is an operator's bulk load.
"""

import collections
import dataclasses

import sqlalchemy as sa

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import models, values as checks
from store_kit.catalog.locations import location_entry
from store_kit.catalog.properties import property_items, tag_values
from store_kit.catalog.rows import check_keys, choice, image_values, looks_redacted

images = models.images

#: The keys each child row may hold (timestamps: ``created_at`` and
#: ``updated_at`` required, ``deleted_at`` optional).
CHILD_KEYS = {
    'properties': ('name', 'value', 'deleted'),
    'tags': ('value', 'deleted'),
    'members': ('member', 'can_share', 'status', 'deleted'),
    'locations': ('url', 'metadata', 'status', 'delete_time'),
}
# a pending_delete location without a delete_time gets its deleted_at (else
# its updated_at): the scrubber's scrub_time counts from there
TABLES = {'properties': models.properties, 'tags': models.tags,
          'members': models.members, 'locations': models.locations}
_TIMES = ('created_at', 'updated_at', 'deleted_at')
_IN_CHUNK = 1000


@dataclasses.dataclass
class ImportResult:
    """What :meth:`ImportsMixin.import_images` did with one batch."""

    imported: list = dataclasses.field(default_factory=list)   # image ids
    skipped: list = dataclasses.field(default_factory=list)    # ids already there
    refused: list = dataclasses.field(default_factory=list)    # [(id, reason)]
    #: child rows written (or, in a dry run, that would be), per kind
    rows: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    #: child rows of skipped images, per kind
    skipped_rows: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)
    #: child rows of refused images, per kind
    refused_rows: collections.Counter = dataclasses.field(
        default_factory=collections.Counter)


class ImportsMixin:
    """Bulk image import of :class:`store_kit.catalog.Catalog`."""

    def import_images(self, batch, dry_run=False):
        """Write the images of *batch* (a list of image dicts with their
        children, see the module doc) in one transaction; returns an
        :class:`ImportResult`.  With *dry_run* everything is checked and
        nothing is written."""
        batch = checks.sequence('image batch', batch)
        result = ImportResult()
        checked, seen = [], set()
        for image in batch:
            try:
                row, children = checked_image(image)
                if row['id'] in seen:
                    raise exceptions.Invalid('image %s is given twice' % (row['id'],))
            except exceptions.Invalid as exc:
                result.refused.append((_given_id(image), str(exc)))
                _count(result.refused_rows, image)
                continue
            seen.add(row['id'])
            checked.append((row, children))

        def fn(conn):
            present = set()
            ids = [row['id'] for row, _ in checked]
            for i in range(0, len(ids), _IN_CHUNK):
                chunk = ids[i:i + _IN_CHUNK]
                present.update(r for r in conn.execute(
                    sa.select(images.c.id).where(images.c.id.in_(chunk))).scalars()
                    if r in seen)                   # exact, whatever the collation
            new = [(row, kids) for row, kids in checked if row['id'] not in present]
            if not dry_run and new:
                conn.execute(images.insert(), [row for row, _ in new])
                for kind, table in TABLES.items():
                    rows = [dict(child, image_id=row['id'])
                            for row, kids in new for child in kids[kind]]
                    if rows:
                        conn.execute(table.insert(), rows)
            return present
        present = self._run(fn, write=not dry_run, what='image import') if checked else set()
        for row, kids in checked:
            if row['id'] in present:
                result.skipped.append(row['id'])
                _count(result.skipped_rows, kids)
            else:
                result.imported.append(row['id'])
                _count(result.rows, kids)
        return result


def checked_image(image):
    """``(image row, {kind: [rows]})`` of one image dict, every value
    checked; Invalid naming the image and the value otherwise."""
    given = checks.mapping('image', image)
    image_id = given.get('id')
    if image_id is None:
        raise exceptions.Invalid('image without an id')
    image_id = checks.text('image id', image_id, max_length=36, empty=False)
    try:
        kids = {kind: checks.sequence('image %s' % kind, given.pop(kind, None) or [])
                for kind in CHILD_KEYS}
        check_keys('image', given, images.c.keys())
        for key in ('created_at', 'updated_at'):
            if given.get(key) is None:
                raise exceptions.Invalid('image %s is missing' % key)
        deleted = _flag('image deleted', given.pop('deleted', False))
        deleted_at = checks.timestamp('image deleted_at', given.pop('deleted_at', None),
                                      nullable=True)
        row = image_values(given, create=True)
        row.update(deleted=deleted, deleted_at=deleted_at)
        children = {kind: _children(kind, rows) for kind, rows in kids.items()}
    except exceptions.Invalid as exc:
        raise exceptions.Invalid('image %s: %s' % (image_id, exc)) from None
    return row, children


def _children(kind, rows):
    check, allowed, what = _CHECKS[kind], _ALLOWED[kind], kind[:-1]
    out, keys = [], set()
    for given in rows:
        if not isinstance(given, dict):
            checks.mapping(what, given)
        if not given.keys() <= allowed:
            check_keys(what, given, allowed)
        row, key = check(given)
        if key in keys:
            raise exceptions.Invalid('%s %s is given twice' % (what, checks.shown(key)))
        keys.add(key)
        _times(what, given, row)
        if kind == 'locations' and row['status'] == 'pending_delete' and row['delete_time'] is None:
            # the scrubber's clock starts when the location was deleted
            row['delete_time'] = row['deleted_at'] or row['updated_at']
        out.append(row)
    return out


def _times(what, given, row):
    """Check the times of child row *given* into *row*."""
    for key in ('created_at', 'updated_at'):
        value = given.get(key)
        if value is None:
            raise exceptions.Invalid('%s %s is missing' % (what, key))
        row[key] = checks.timestamp(_FIELDS[what, key], value)
    row['deleted_at'] = checks.timestamp(_FIELDS[what, 'deleted_at'], given.get('deleted_at'),
                                         nullable=True)


def _flag(field, value):
    if not isinstance(value, bool):
        raise exceptions.Invalid('%s must be a boolean, not %s' % (field, checks.shown(value)))
    return value


def _property(given):
    if 'name' not in given:
        raise exceptions.Invalid('property without a name')
    [(name, value)] = property_items({given['name']: given.get('value')}).items()
    return ({'name': name, 'value': value,
             'deleted': _flag('property deleted', given.get('deleted', False))}, name)


def _tag(given):
    [value] = tag_values([given.get('value')])
    return {'value': value, 'deleted': _flag('tag deleted', given.get('deleted', False))}, value


def _member(given):
    member = checks.text('member', given.get('member'), max_length=255, empty=False)
    return ({'member': member,
             'can_share': _flag('member can_share', given.get('can_share', False)),
             'status': choice('member status', given.get('status'), models.MEMBER_STATUSES),
             'deleted': _flag('member deleted', given.get('deleted', False))}, member)


def _location(given):
    entry = location_entry({k: given.get(k) for k in ('url', 'metadata', 'status')})
    url, status = entry.get('url'), entry.get('status')
    if url is None or status is None:
        raise exceptions.Invalid('location without a %s' % ('url' if url is None else 'status'))
    if looks_redacted(url):
        raise exceptions.Invalid('location %s is a redacted URL' % (loc_mod.redact(url),))
    delete_time = checks.timestamp('location delete_time', given.get('delete_time'),
                                   nullable=True)
    row = {'url': url, 'url_key': loc_mod.url_key(url), 'meta_data': entry['metadata'],
           'status': status, 'delete_time': delete_time, 'attempts': 0}
    return row, object()                    # the same URL twice is allowed


_CHECKS = {'properties': _property, 'tags': _tag, 'members': _member,
           'locations': _location}
_ALLOWED = {kind: frozenset(keys + _TIMES) for kind, keys in CHILD_KEYS.items()}
_FIELDS = {(kind[:-1], key): '%s %s' % (kind[:-1], key) for kind in CHILD_KEYS for key in _TIMES}


def _given_id(image):
    image_id = image.get('id') if isinstance(image, dict) else None
    return image_id if isinstance(image_id, str) else checks.shown(image_id)


def _count(counter, kids):
    if not isinstance(kids, dict):
        return
    for kind in CHILD_KEYS:
        rows = kids.get(kind)
        if isinstance(rows, (list, tuple)):
            counter[kind] += len(rows)
