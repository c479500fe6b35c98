"""The Catalog: the image database API.

Each public method runs in exactly one transaction (see
:func:`store_kit.catalog.engine.run_in_transaction`) and returns plain dicts.
Images come back with ``properties`` (a dict), ``locations`` (active ones
only, as ``{'id', 'url', 'metadata', 'status'}``) and ``tags``.
"""

import uuid

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import filters as filtering
from store_kit.catalog import models, schema, values as checks, visibility
from store_kit.catalog.bulk import BulkMixin
from store_kit.catalog.copies import CopiesMixin
from store_kit.catalog.dependencies import DependenciesMixin
from store_kit.catalog.imports import ImportsMixin
from store_kit.catalog.leases import LeasesMixin, release_dead_local
from store_kit.catalog.engine import make_engine, run_in_transaction
from store_kit.catalog.locations import LocationsMixin, location_entries
from store_kit.catalog.members import MembersMixin
from store_kit.catalog.properties import PropertiesTagsMixin, property_items, tag_values
from store_kit.catalog.repair import RepairMixin
from store_kit.catalog.usage import UsageMixin
from store_kit.catalog.rows import (check_keys, choice, for_caller, image_values,
                                    location_dict, utcnow)

images = models.images
properties = models.properties
tags = models.tags
locations = models.locations
members = models.members

CHILDREN = ('properties', 'tags', 'locations')


class Catalog(PropertiesTagsMixin, MembersMixin, LocationsMixin, DependenciesMixin,
              BulkMixin, LeasesMixin, RepairMixin, CopiesMixin, ImportsMixin, UsageMixin):
    """The image catalog on one database.

    ``url`` is a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://``,
    ``mysql+pymysql://``). ``resolver`` (optional) has ``resolve(url)`` and
    ``names()``; with it, reads fill in missing ``metadata['store']``.
    """

    def __init__(self, url, resolver=None):
        self.url = str(url)
        self.resolver = resolver
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name

    def __repr__(self):
        return 'Catalog(%r)' % (self.engine.url.render_as_string(hide_password=True),)

    # -- schema -----------------------------------------------------------

    def create_schema(self):
        """Upgrade the database to the newest migration (alembic head)."""
        schema.upgrade(self.engine)

    def schema_version(self):
        """The current alembic revision, or None for an empty database."""
        return schema.current_revision(self.engine)

    def dispose(self):
        """Close every pooled connection."""
        self.engine.dispose()

    # -- plumbing shared by the mixins ------------------------------------

    def _run(self, fn, write=False, what='catalog', transaction=False):
        """Run ``fn(conn)`` as one transaction; plain reads on PostgreSQL
        autocommit (same READ COMMITTED view, fewer round trips) unless
        ``transaction`` or a resolver (backfill writes on read) asks for one."""
        autocommit = (not write and not transaction and self.resolver is None
                      and self.dialect == 'postgresql')
        return run_in_transaction(self.engine, fn, write=write, what=what,
                                  autocommit=autocommit)

    @staticmethod
    def _member_lookup(conn):
        def status_of(image_id, member):
            return conn.execute(
                sa.select(members.c.status).where(
                    members.c.image_id == image_id, members.c.member == member,
                    members.c.deleted == sa.false())).scalar()
        return status_of

    def _image_row(self, conn, ctx, image_id, force_show_deleted=False,
                   for_update=False, live=False):
        """The image row as a dict, or ImageNotFound if the caller can't see it.

        Soft-deleted images are seen by admins and with ``force_show_deleted``,
        never when ``live`` is set (changes to deleted images).
        """
        query = sa.select(images).where(images.c.id == str(image_id))
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        # exact, whatever the engine's collation: the row found is this id
        if row is not None and row['id'] == str(image_id):
            image = dict(row)
            hidden = image['deleted'] and (live or not (force_show_deleted or ctx.is_admin))
            if not hidden and visibility.is_visible(ctx, image, self._member_lookup(conn)):
                return image
        raise exceptions.ImageNotFound('image %s not found' % (image_id,))

    @staticmethod
    def _require_mutable(ctx, image, action='change'):
        if not visibility.is_mutable(ctx, image):
            raise exceptions.Forbidden('project %s may not %s image %s'
                                       % (ctx.owner, action, image['id']))

    def _lock_graph(self, conn):
        """Serialise dependency-graph changes (SQLite writers already are)."""
        if self.dialect != 'sqlite':
            conn.execute(sa.select(models.locks.c.name)
                         .where(models.locks.c.name == models.DEPENDENCY_LOCK)
                         .with_for_update())

    # -- reading ----------------------------------------------------------

    def _hydrate(self, conn, rows, with_tags=True):
        """Attach properties, active locations and tags to image rows."""
        result = [dict(r) for r in rows]
        if not result:
            return result
        by_id = {img['id']: img for img in result}
        for img in result:
            img['properties'] = {}
            img['locations'] = []
            if with_tags:
                img['tags'] = []
        for row in conn.execute(_CHILDREN_QUERIES[with_tags], {'ids': list(by_id)}):
            image = by_id[row.image_id]
            if row.kind == 'l':
                image['locations'].append(location_dict(row))
            elif row.kind == 'p':
                image['properties'][row.name] = row.value
            else:
                image['tags'].append(row.name)
        if self.resolver is not None:
            self._backfill_on_read(conn, result)
        return result

    def _load(self, conn, ctx, image_id, **kwargs):
        return self._hydrate(conn, [self._image_row(conn, ctx, image_id, **kwargs)])[0]

    def _shown(self, conn, ctx, image_id, **kwargs):
        """The image as ``ctx`` may see it: location secrets redacted
        unless ``ctx`` is an admin."""
        image = self._load(conn, ctx, image_id, **kwargs)
        for_caller(ctx, [image])
        return image

    def image_get(self, ctx, image_id, force_show_deleted=False):
        """One image, or ImageNotFound (missing and invisible look the same).

        Location URLs keep their credentials and query strings for admins
        only (the same holds for every method that returns locations).
        """
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        return self._run(lambda conn: self._shown(conn, ctx, image_id,
                                                  force_show_deleted=force_show_deleted),
                         what='image %s' % (image_id,))

    def read_locations(self, ctx, image_id):
        """``(image, locations)`` for reading data on ``ctx``'s behalf.

        ``image`` is what :meth:`image_get` returns to ``ctx``; ``locations``
        are its active locations (same ids, same order) with their real
        URLs, credentials included. Use them to read the data
        (:class:`~store_kit.images.ImageService` does); never return them to
        a non-admin caller.
        """
        checks.caller(ctx)
        image_id = checks.image_id(image_id)

        def fn(conn):
            image = self._load(conn, ctx, image_id)
            real = [dict(loc, metadata=dict(loc['metadata'])) for loc in image['locations']]
            for_caller(ctx, [image])
            return image, real
        return self._run(fn, what='image %s' % (image_id,))

    def image_get_all(self, ctx, filters=None, marker=None, limit=None, sort_key=None,
                      sort_dir=None, member_status='accepted', is_public=None,
                      admin_as_user=False, return_tag=False):
        """A page of images visible to ``ctx``; see doc/catalog.md for filters."""
        checks.caller(ctx)
        filters = checks.mapping('filters', filters, nullable=True)
        wanted = filters.pop('visibility', None)
        if wanted is not None:
            choice('visibility filter', wanted, visibility.LIST_VISIBILITIES)
        choice('member_status', member_status, models.MEMBER_STATUSES + ('all',))
        if limit is not None:
            limit = filtering.parse_int('limit', limit, low=0)
        if marker is not None:
            marker = checks.image_id(marker, 'marker')
        spec = filtering.sort_spec(sort_key, sort_dir)
        filters = filtering.checked(filters)       # validate before any I/O
        clauses = []
        deleted = filtering.deleted_clause(filters)
        if deleted is not None:
            clauses.append(deleted)
        if is_public is not None:
            public = images.c.visibility == 'public'
            clauses.append(public if filtering.parse_bool('is_public', is_public) else ~public)
        clauses.append(visibility.sql_predicate(
            ctx, mode='list', visibility=wanted, member_status=member_status,
            admin_as_user=admin_as_user))

        def fn(conn):
            per_row = self.dialect != 'sqlite' and filtering.all_dense(conn, filters)
            where = clauses + filtering.filter_clauses(filters, per_row=per_row)
            marker_row = None
            if marker is not None:
                try:
                    marker_row = self._image_row(conn, ctx, marker, force_show_deleted=True)
                except exceptions.ImageNotFound:
                    raise exceptions.ImageNotFound('marker image %s not found' % (marker,)) \
                        from None
            rows = []
            for conds, order in filtering.plan(spec, marker_row,
                                               native_nulls=self.dialect == 'postgresql'):
                query = sa.select(images).where(*where, *conds).order_by(*order)
                if limit is not None:
                    query = query.limit(limit - len(rows))
                rows += conn.execute(query).mappings().all()
                if limit is not None and len(rows) >= limit:
                    break
            found = self._hydrate(conn, rows, with_tags=return_tag)
            for_caller(ctx, found)
            return found
        return self._run(fn, what='image list')

    def is_image_visible(self, ctx, image, status=None):
        """Whether ``ctx`` may see ``image`` (a dict with id, owner, visibility)."""
        checks.caller(ctx)
        image = checks.mapping('image', image)
        checks.image_id(image.get('id'))
        if status is not None:
            choice('member status', status, models.MEMBER_STATUSES)
        return self._run(lambda conn: visibility.is_visible(
            ctx, image, self._member_lookup(conn), mode='get', member_status=status))

    def is_image_mutable(self, ctx, image):
        """Whether ``ctx`` may change ``image``: its owner or an admin."""
        return visibility.is_mutable(ctx, image)

    # -- writing images ---------------------------------------------------

    def image_create(self, ctx, values):
        """Create an image (with properties, tags and locations); returns it."""
        checks.caller(ctx)
        values = checks.mapping('image values', values)
        check_keys('image', values, set(images.c.keys()) - {'deleted', 'deleted_at'},
                   CHILDREN)
        children = _children({k: values.pop(k) for k in CHILDREN if k in values})
        now = utcnow()
        row = image_values(values, create=True)
        row.setdefault('id', str(uuid.uuid4()))
        row.setdefault('owner', ctx.owner)
        row.setdefault('created_at', now)
        row.setdefault('updated_at', row['created_at'])
        if not ctx.is_admin and (row['owner'] != ctx.owner or ctx.owner is None):
            raise exceptions.Forbidden('project %s may not create an image owned by %s'
                                       % (ctx.owner, row['owner']))

        def fn(conn):
            conn.execute(images.insert().values(row))
            self._write_children(conn, ctx, row['id'], children, purge_props=False, now=now)
            image = self._hydrate(conn, [conn.execute(
                sa.select(images).where(images.c.id == row['id'])).mappings().one()])[0]
            for_caller(ctx, [image])
            return image
        return self._run(fn, write=True, what='image %s' % row['id'])

    def image_update(self, ctx, image_id, values, purge_props=False, from_state=None,
                     atomic_props=None):
        """Change an image and its children in one transaction.

        ``from_state`` makes it a compare-and-set on status (Conflict if the
        image is in another status). ``purge_props`` drops properties not given.
        Properties named in ``atomic_props`` are left as they are, neither
        set nor purged (as glance: they change only through
        :meth:`image_set_property_atomic` and :meth:`image_delete_property_atomic`).
        """
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        values = checks.mapping('image values', values)
        check_keys('image', values,
                   set(images.c.keys()) - {'id', 'created_at', 'deleted', 'deleted_at'},
                   CHILDREN)
        children = _children({k: values.pop(k) for k in CHILDREN if k in values})
        cols = image_values(values, create=False)
        if from_state is not None:
            choice('image status', from_state, models.IMAGE_STATUSES)
        atomic = frozenset(checks.text('atomic property name', name) for name in
                           checks.sequence('atomic_props', atomic_props or ()))

        def fn(conn):
            image = self._image_row(conn, ctx, image_id, for_update=True, live=True)
            self._require_mutable(ctx, image)
            if cols.get('owner', ctx.owner) != ctx.owner and not ctx.is_admin:
                raise exceptions.Forbidden('project %s may not give image %s to %s'
                                           % (ctx.owner, image_id, cols['owner']))
            if from_state is not None and image['status'] != from_state:
                raise exceptions.Conflict('image %s is %s, not %s'
                                          % (image_id, image['status'], from_state))
            now = utcnow()
            conn.execute(images.update().where(images.c.id == image['id'])
                         .values({'updated_at': now, **cols}))
            self._write_children(conn, ctx, image['id'], children, purge_props, now,
                                 atomic)
            return self._shown(conn, ctx, image['id'])
        return self._run(fn, write=True, what='image %s' % (image_id,))

    def _write_children(self, conn, ctx, image_id, children, purge_props, now, atomic=()):
        """Write the children checked by :func:`_children`."""
        if 'properties' in children or purge_props:
            self._set_properties(conn, image_id, children.get('properties', {}),
                                 purge_props, now, atomic)
        if 'tags' in children:
            self._set_tags(conn, image_id, children['tags'], now)
        if 'locations' in children:
            self._replace_locations(conn, ctx, image_id, children['locations'], now)

    def image_destroy(self, ctx, image_id, delayed=False):
        """Soft-delete an image with its properties, tags and members.

        Active locations become ``deleted`` (``pending_delete`` with
        ``delayed=True``, for the scrubber). Refused with ImageInUse while
        another image depends on it; its own dependency edges are removed.
        """
        checks.caller(ctx)
        image_id = checks.image_id(image_id)

        def fn(conn):
            self._lock_graph(conn)
            image = self._image_row(conn, ctx, image_id, for_update=True, live=True)
            self._require_mutable(ctx, image, 'delete')
            if image['protected']:
                raise exceptions.ImageProtected('image %s is protected' % (image_id,))
            self._check_no_dependents(conn, image['id'])
            now = utcnow()
            self._drop_outgoing_edges(conn, image['id'])
            self._retire_active_locations(conn, image['id'],
                                          'pending_delete' if delayed else 'deleted', now)
            pending = conn.execute(sa.select(sa.func.count()).where(
                locations.c.image_id == image['id'],
                locations.c.status == 'pending_delete')).scalar()
            conn.execute(images.update().where(images.c.id == image['id']).values(
                deleted=True, deleted_at=now, updated_at=now,
                status='pending_delete' if pending else 'deleted'))
            for table in (properties, tags, members):
                conn.execute(table.update().where(
                    table.c.image_id == image['id'], table.c.deleted == sa.false())
                    .values(deleted=True, deleted_at=now, updated_at=now))
            return self._shown(conn, ctx, image['id'], force_show_deleted=True)
        return self._run(fn, write=True, what='image %s' % (image_id,))

    def image_restore(self, ctx, image_id):
        """Bring a ``pending_delete`` image back to ``active``.

        Its pending_delete locations become active again, and the properties,
        tags and members removed by :meth:`image_destroy` come back. Conflict
        if a scrubber holds a live lease on one of its locations.
        """
        checks.caller(ctx)
        image_id = checks.image_id(image_id)

        def fn(conn):
            image = self._image_row(conn, ctx, image_id, force_show_deleted=True,
                                    for_update=True)
            self._require_mutable(ctx, image, 'restore')
            if image['status'] != 'pending_delete':
                raise exceptions.Conflict('image %s is %s; only pending_delete images '
                                          'can be restored' % (image_id, image['status']))
            # a scrubber of this host that died gives its lease up at once
            release_dead_local(conn, [locations.c.image_id == image['id']])
            now = utcnow()
            leased = conn.execute(sa.select(locations.c.id).where(
                locations.c.image_id == image['id'],
                locations.c.status == 'pending_delete',
                locations.c.lease_until > now)).scalars().first()
            if leased is not None:
                raise exceptions.Conflict('image %s: location %s is being scrubbed'
                                          % (image_id, leased))
            conn.execute(locations.update().where(
                locations.c.image_id == image['id'],
                locations.c.status == 'pending_delete').values(
                    status='active', delete_time=None, updated_at=now, lease_owner=None,
                    lease_until=None, next_attempt_at=None))
            if image['deleted']:
                for table in (properties, tags, members):
                    conn.execute(table.update().where(
                        table.c.image_id == image['id'], table.c.deleted == sa.true(),
                        table.c.deleted_at == image['deleted_at'])
                        .values(deleted=False, deleted_at=None, updated_at=now))
            conn.execute(images.update().where(images.c.id == image['id']).values(
                status='active', deleted=False, deleted_at=None, updated_at=now))
            return self._shown(conn, ctx, image['id'])
        return self._run(fn, write=True, what='image %s' % (image_id,))

    def _mutable_image(self, conn, ctx, image_id):
        image = self._image_row(conn, ctx, image_id, for_update=True, live=True)
        self._require_mutable(ctx, image)
        return image


def _children(given):
    """Properties, tags and locations of image values, checked before any I/O."""
    checked = {}
    if 'properties' in given:
        checked['properties'] = property_items(
            checks.mapping('image properties', given['properties'], nullable=True))
    if 'tags' in given:
        checked['tags'] = tag_values(given['tags'] or [])
    if 'locations' in given:
        checked['locations'] = location_entries(given['locations'] or [])
    return checked


def _build_children_query(with_tags):
    """Active locations, live properties and tags of the images in the
    expanding parameter ``ids``: one round trip. Built once (building the
    UNION costs more than running it)."""
    ids = sa.bindparam('ids', expanding=True)
    null = sa.null()
    parts = [
        sa.select(sa.literal('l').label('kind'), locations.c.image_id, locations.c.id,
                  locations.c.url, locations.c.meta_data, locations.c.status,
                  sa.cast(null, sa.String(255)).label('name'),
                  sa.cast(null, sa.String(255)).label('value'))
        .where(locations.c.image_id.in_(ids), locations.c.status == 'active'),
        sa.select(sa.literal('p'), properties.c.image_id, properties.c.id, null, null, null,
                  properties.c.name, properties.c.value)
        .where(properties.c.image_id.in_(ids), properties.c.deleted == sa.false()),
    ]
    if with_tags:
        parts.append(sa.select(sa.literal('t'), tags.c.image_id, tags.c.id, null, null, null,
                               tags.c.value, null)
                     .where(tags.c.image_id.in_(ids), tags.c.deleted == sa.false()))
    union = sa.union_all(*parts).subquery()
    return sa.select(union).order_by(union.c.kind, union.c.id)


_CHILDREN_QUERIES = {True: _build_children_query(True), False: _build_children_query(False)}
