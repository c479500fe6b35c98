"""Image locations: status transitions, the scrubber's work queue, backfill.

A location's ``status`` is the single source of truth:

    active -> pending_delete | deleted
    pending_delete -> deleted | active
    deleted is final

Only active locations are returned to callers. Pending deletes are claimed by
scrubber processes with leases (``FOR UPDATE SKIP LOCKED`` where the engine
has it, SQLite's single writer otherwise), so no row is worked on twice
while its lease is live.
"""

import datetime

import sqlalchemy as sa

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import models, values as checks
from store_kit.catalog.bulk import SET_STORE_SQL
from store_kit.catalog.rows import (check_keys, choice, for_caller, location_dict,
                                    looks_redacted, utcnow)

locations = models.locations
images = models.images

TRANSITIONS = {
    'active': {'active', 'pending_delete', 'deleted'},
    'pending_delete': {'pending_delete', 'deleted', 'active'},
    'deleted': set(),
}


def check_transition(location_id, old, new):
    """Invalid unless ``old -> new`` is an allowed status change."""
    choice('location status', new, models.LOCATION_STATUSES)
    if new not in TRANSITIONS[old]:
        raise exceptions.Invalid('location %s cannot go from %s to %s'
                                 % (location_id, old, new))


def location_entry(location, with_id=False):
    """A location dict checked before any I/O: ``url`` storable text,
    ``metadata`` JSON, ``status`` known (None: absent), ``id`` an integer."""
    location = checks.mapping('location', location)
    check_keys('location', location,
               {'url', 'metadata', 'status'} | ({'id'} if with_id else set()))
    checked = {}
    if location.get('id') is not None:
        checked['id'] = checks.location_id(location['id'])
    if 'url' in location:
        checked['url'] = checks.url('location url', location['url'])
    if 'metadata' in location:
        checked['metadata'] = checks.json_dict('location metadata', location['metadata'])
    if location.get('status') is not None:
        checked['status'] = choice('location status', location['status'],
                                   models.LOCATION_STATUSES)
    return checked


def location_entries(wanted):
    """The checked entries of a ``locations`` list (image create/update)."""
    if not isinstance(wanted, (list, tuple)):
        raise exceptions.Invalid('locations must be a list, not %s' % (checks.shown(wanted),))
    return [location_entry(loc, with_id=True) for loc in wanted]


def _location_values(image_id, location, now):
    """The row of a new location (``location`` checked by :func:`location_entry`)."""
    url = location.get('url')
    if url is None:
        raise exceptions.Invalid('image %s: location without a url' % (image_id,))
    _refuse_redacted(image_id, url)
    metadata = location.get('metadata') or {}
    status = location.get('status', 'active')
    if status not in ('active', 'pending_delete'):
        raise exceptions.Invalid('image %s: a new location is active or pending_delete, '
                                 'not %s' % (image_id, status))
    return {'image_id': image_id, 'url': url, 'url_key': loc_mod.url_key(url),
            'meta_data': metadata, 'status': status,
            'delete_time': now if status == 'pending_delete' else None,
            'created_at': now, 'updated_at': now, 'attempts': 0}


def _refuse_redacted(image_id, url):
    if looks_redacted(url):
        raise exceptions.Invalid(
            'image %s: location %s is a redacted URL; it names no location of this image '
            'and cannot be stored' % (image_id, loc_mod.redact(url)))


def _error_text(error):
    """``error`` as storable text: never fails, never longer than 4000."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 -- any object may be handed in
        text = type(error).__name__
    text = text.encode('utf-8', 'backslashreplace').decode('utf-8').replace('\x00', '\\x00')
    return loc_mod.redact_text(text)[:4000]


def _url_keys(url_keys):
    return sorted({checks.text('url key', k, max_length=64)
                   for k in checks.sequence('url_keys', url_keys)})


class LocationsMixin:
    """Location, scrubber and backfill methods of the Catalog."""

    # -- transaction-internal helpers -------------------------------------

    def _equivalent_keys(self, url):
        """Keys of every spelling of *url* (the resolver knows aliases)."""
        keys = getattr(self.resolver, 'equivalent_keys', None)
        return keys(url) if keys is not None else [loc_mod.url_key(url)]

    def _check_not_shared(self, conn, ctx, image_id, url):
        """Forbidden when a non-admin attaches data another image references:
        data is shared between images only on purpose (by an admin)."""
        if ctx is None or ctx.is_admin:
            return
        others = conn.execute(sa.select(locations.c.image_id).where(
            locations.c.url_key.in_(self._equivalent_keys(url)),
            locations.c.status != 'deleted', locations.c.image_id != image_id)
            .distinct().order_by(locations.c.image_id).limit(5)).scalars().all()
        if others:
            raise exceptions.Forbidden(
                'image %s: project %s may not attach this location: its data is already '
                'referenced by image%s %s' % (image_id, ctx.owner,
                                              's' if len(others) > 1 else '', ', '.join(others)))

    def _insert_location(self, conn, ctx, image_id, location, now):
        values = _location_values(image_id, location, now)
        self._check_not_shared(conn, ctx, image_id, values['url'])
        if self.resolver is not None:       # record the store as we write
            metadata = values['meta_data']
            if metadata.get('store') not in set(self.resolver.names()):
                name = self.resolver.resolve(values['url'])
                if name:
                    values['meta_data'] = dict(metadata, store=name)
        new_id = conn.execute(locations.insert().values(values)).inserted_primary_key[0]
        return {'id': new_id, 'url': values['url'], 'metadata': values['meta_data'],
                'status': values['status']}

    def _change_location(self, conn, ctx, image_id, location_id, now, status=None, **values):
        row = conn.execute(sa.select(locations).where(
            locations.c.id == location_id, locations.c.image_id == image_id)
            .with_for_update()).first()
        if row is None:
            raise exceptions.LocationNotFound('image %s has no location %s'
                                              % (image_id, location_id))
        if values.get('delete_time', 0) is None:
            del values['delete_time']
        if 'url' in values:
            if not isinstance(values['url'], str) or not values['url']:
                raise exceptions.Invalid('image %s: location without a url' % (image_id,))
            if values['url'] in (row.url, loc_mod.redact(row.url)):
                del values['url']           # unchanged, as read (maybe redacted)
            else:
                _refuse_redacted(image_id, values['url'])
                self._check_not_shared(conn, ctx, image_id, values['url'])
                values['url_key'] = loc_mod.url_key(values['url'])
        status = row.status if status is None else status
        check_transition(location_id, row.status, status)
        if status == 'active' and row.status == 'pending_delete' and \
                row.lease_until is not None and row.lease_until > now:
            raise exceptions.Conflict('location %s is being scrubbed by %s'
                                      % (location_id, row.lease_owner))
        if status != row.status:
            values['delete_time'] = values.get('delete_time') or (
                now if status == 'pending_delete' else row.delete_time)
            values['deleted_at'] = now if status == 'deleted' else None
            if status == 'active':
                values.update(delete_time=None, lease_owner=None, lease_until=None)
        conn.execute(locations.update().where(locations.c.id == row.id)
                     .values(status=status, updated_at=now, **values))
        return location_dict(conn.execute(
            sa.select(locations).where(locations.c.id == row.id)).one())

    def _retire_active_locations(self, conn, image_id, status, now):
        values = {'status': status, 'updated_at': now}
        values.update({'delete_time': now} if status == 'pending_delete'
                      else {'deleted_at': now})
        conn.execute(locations.update().where(locations.c.image_id == image_id,
                                              locations.c.status == 'active').values(values))

    def _replace_locations(self, conn, ctx, image_id, wanted, now):
        """Make ``wanted`` the image's active locations (image_update's ``locations``).

        Entries with an ``id`` update that location, others match an active
        location by url (its real or its redacted form, as a non-admin read
        it) or are added; active locations not named become deleted.
        """
        current = {r.id: r for r in conn.execute(sa.select(locations).where(
            locations.c.image_id == image_id, locations.c.status == 'active')
            .order_by(locations.c.id))}
        by_url = {r.url: r.id for r in current.values()}
        by_redacted = {}
        for r in current.values():
            by_redacted.setdefault(loc_mod.redact(r.url), []).append(r.id)
        named = {loc.get('id') for loc in wanted}
        kept = set()
        for loc in wanted:
            loc = dict(loc)
            loc_id = loc.pop('id', None)
            url = loc.get('url')
            if loc_id is None and url is not None:
                loc_id = by_url.get(url)
                if loc_id is None:
                    # locations whose URLs differ only in their secrets
                    # redact alike: take them in order
                    loc_id = next((i for i in by_redacted.get(url, ())
                                   if i not in kept and i not in named), None)
            if loc_id is None:
                self._insert_location(conn, ctx, image_id, loc, now)
                continue
            changes = {}
            if 'metadata' in loc:
                changes['meta_data'] = loc['metadata']
            if 'url' in loc:
                changes['url'] = loc['url']
            self._change_location(conn, ctx, image_id, loc_id, now, loc.get('status'), **changes)
            kept.add(loc_id)
        gone = [i for i in current if i not in kept]
        if gone:
            conn.execute(locations.update().where(locations.c.id.in_(gone)).values(
                status='deleted', deleted_at=now, updated_at=now))

    # -- the API -----------------------------------------------------------

    def image_location_add(self, ctx, image_id, location):
        """Add ``{'url', 'metadata', 'status'}`` to an image; returns it with its id."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        location = location_entry(location)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            now = utcnow()
            loc = self._insert_location(conn, ctx, image['id'], location, now)
            conn.execute(images.update().where(images.c.id == image['id'])
                         .values(updated_at=now))
            for_caller(ctx, locations=[loc])
            return loc
        return self._run(fn, write=True, what='location of image %s' % (image_id,))

    def check_location_add(self, ctx, image_id, url):
        """Raise what ``image_location_add(ctx, image_id, {'url': url})``
        would for the caller's rights (ImageNotFound, Forbidden), the URL
        (Invalid) or data another image references (Forbidden), writing
        nothing: lets a caller refuse before any store I/O on the URL."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        url = checks.url('location url', url)

        def fn(conn):
            image = self._image_row(conn, ctx, image_id, live=True)
            self._require_mutable(ctx, image)
            _refuse_redacted(image['id'], url)
            self._check_not_shared(conn, ctx, image['id'], url)
        self._run(fn, transaction=True, what='location of image %s' % (image_id,))

    def image_location_update(self, ctx, image_id, location):
        """Change a location's ``metadata``, ``url`` or ``status`` (by ``location['id']``)."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        location = location_entry(location, with_id=True)
        if 'id' not in location:
            raise exceptions.Invalid('image %s: location update needs an id' % (image_id,))
        loc_id = location.pop('id')
        changes = {}
        if 'metadata' in location:
            changes['meta_data'] = location['metadata']
        if 'url' in location:
            changes['url'] = location['url']

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            loc = self._change_location(conn, ctx, image['id'], loc_id, utcnow(),
                                        location.get('status'), **changes)
            for_caller(ctx, locations=[loc])
            return loc
        return self._run(fn, write=True, what='location %s of image %s' % (loc_id, image_id))

    def image_location_delete(self, ctx, image_id, location_id, status, delete_time=None):
        """Mark a location ``pending_delete`` (scrubbed later) or ``deleted``."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        location_id = checks.location_id(location_id)
        choice('delete status of location %s' % location_id, status,
               ('pending_delete', 'deleted'))
        delete_time = checks.timestamp('delete_time', delete_time, nullable=True)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            self._change_location(conn, ctx, image['id'], location_id, utcnow(), status,
                                  delete_time=delete_time)
        return self._run(fn, write=True,
                         what='location %s of image %s' % (location_id, image_id))

    # -- who references what (for deletes and checks) ----------------------

    def location_references(self, url_keys, exclude_ids=()):
        """Non-deleted locations whose URL has one of ``url_keys``
        (see :func:`store_kit.location.url_key`), but those in
        ``exclude_ids``: ``[{'id', 'image_id', 'status'}]``.  Data may be
        deleted only when this is empty for every spelling of its URL."""
        keys = _url_keys(url_keys)
        exclude_ids = [checks.location_id(i) for i in checks.sequence('exclude_ids',
                                                                      exclude_ids)]
        if not keys:
            return []
        query = sa.select(locations.c.id, locations.c.image_id, locations.c.status).where(
            locations.c.url_key.in_(keys), locations.c.status != 'deleted')
        if exclude_ids:
            query = query.where(locations.c.id.notin_(list(exclude_ids)))
        return self._run(lambda conn: [dict(r._mapping) for r in conn.execute(
            query.order_by(locations.c.id))], what='location references')

    def referenced_keys(self, url_keys):
        """The subset of ``url_keys`` some non-deleted location has."""
        keys = _url_keys(url_keys)
        found = set()
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            found.update(self._run(lambda conn: conn.execute(
                sa.select(locations.c.url_key).where(
                    locations.c.url_key.in_(chunk), locations.c.status != 'deleted')
                .distinct()).scalars().all(), what='location references'))
        return found

    # -- the scrubber's queue ----------------------------------------------

    def claim_pending_deletes(self, owner, older_than=None, limit=100, lease_seconds=300,
                              image_id=None):
        """Lease up to ``limit`` pending_delete locations to worker ``owner``
        (only those of ``image_id`` when given).

        ``older_than`` is a datetime or a number of seconds: only locations
        whose ``delete_time`` is at or before it are due. Rows leased to
        someone else are skipped until the lease expires; rows that failed
        wait for their ``next_attempt_at``. Returns dicts with id, image_id,
        url, metadata, delete_time, attempts.
        """
        owner = checks.text('lease owner', owner, max_length=255)
        limit = checks.integer('limit', limit, 0, checks.INTEGER[1])
        lease_seconds = checks.seconds('lease_seconds', lease_seconds)
        if image_id is not None:
            image_id = checks.image_id(image_id)
        now = utcnow()
        due_by = now if older_than is None else checks.cutoff('older_than', older_than, now)
        due = [locations.c.status == 'pending_delete',
               sa.or_(locations.c.delete_time.is_(None), locations.c.delete_time <= due_by),
               sa.or_(locations.c.lease_until.is_(None), locations.c.lease_until < now),
               sa.or_(locations.c.next_attempt_at.is_(None),
                      locations.c.next_attempt_at <= now)]
        if image_id is not None:
            due.append(locations.c.image_id == image_id)
        until = now + datetime.timedelta(seconds=lease_seconds)

        def fn(conn):
            query = sa.select(locations).where(*due).order_by(locations.c.id).limit(limit)
            if self.dialect != 'sqlite':
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return []
            conn.execute(locations.update().where(
                locations.c.id.in_([r.id for r in rows]), *due).values(
                lease_owner=owner, lease_until=until))
            return [{'id': r.id, 'image_id': r.image_id, 'url': r.url,
                     'metadata': dict(r.meta_data or {}), 'delete_time': r.delete_time,
                     'attempts': r.attempts} for r in rows]
        return self._run(fn, write=True, what='claim of pending deletes by %s' % (owner,))

    def complete_pending_delete(self, location_id, owner):
        """Mark a leased location deleted; False if the lease was lost.

        When it was the image's last pending_delete location and the image is
        soft-deleted or pending_delete, the image becomes ``deleted``.
        """
        location_id = checks.location_id(location_id)
        owner = checks.text('lease owner', owner)

        def fn(conn):
            image_id = conn.execute(sa.select(locations.c.image_id).where(
                locations.c.id == location_id)).scalar()
            if image_id is None:
                return False
            # Lock the image first: completions of sibling locations serialise.
            image = conn.execute(sa.select(images).where(images.c.id == image_id)
                                 .with_for_update()).mappings().one()
            now = utcnow()
            done = conn.execute(locations.update().where(
                locations.c.id == location_id, locations.c.status == 'pending_delete',
                locations.c.lease_owner == owner).values(
                status='deleted', deleted_at=now, updated_at=now,
                lease_owner=None, lease_until=None)).rowcount
            if not done:
                return False
            if image['deleted'] or image['status'] == 'pending_delete':
                left = conn.execute(sa.select(sa.func.count()).where(
                    locations.c.image_id == image_id,
                    locations.c.status == 'pending_delete')).scalar()
                if not left:
                    conn.execute(images.update().where(images.c.id == image_id).values(
                        status='deleted', deleted=True, updated_at=now,
                        deleted_at=image['deleted_at'] or now))
            return True
        return self._run(fn, write=True, what='location %s' % (location_id,))

    def fail_pending_delete(self, location_id, owner, error, retry_after_seconds=60):
        """Record a failed delete attempt and release the lease; False if not ours."""
        location_id = checks.location_id(location_id)
        owner = checks.text('lease owner', owner)
        retry_after_seconds = checks.seconds('retry_after_seconds', retry_after_seconds)
        error = _error_text(error)
        now = utcnow()

        def fn(conn):
            return bool(conn.execute(locations.update().where(
                locations.c.id == location_id, locations.c.status == 'pending_delete',
                locations.c.lease_owner == owner).values(
                last_error=error, attempts=locations.c.attempts + 1,
                next_attempt_at=now + datetime.timedelta(seconds=retry_after_seconds),
                lease_owner=None, lease_until=None, updated_at=now)).rowcount)
        return self._run(fn, write=True, what='location %s' % (location_id,))

    # -- backfill of metadata['store'] ---------------------------------------

    def _write_store_names(self, conn, updates):
        sql = sa.text('UPDATE locations SET meta_data = %s WHERE id = :id'
                      % SET_STORE_SQL[self._sql_dialect])
        conn.execute(sql, [{'id': loc_id, 'store': name} for loc_id, name in updates])

    def _backfill_on_read(self, conn, hydrated_images):
        """Fill missing or stale metadata['store'] of the returned locations."""
        enabled = set(self.resolver.names())
        updates = []
        for image in hydrated_images:
            for loc in image['locations']:
                if loc['metadata'].get('store') in enabled:
                    continue
                name = self.resolver.resolve(loc['url'])
                if name and name != loc['metadata'].get('store'):
                    loc['metadata']['store'] = name
                    updates.append((loc['id'], name))
        if updates:
            self._write_store_names(conn, updates)
