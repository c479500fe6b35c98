"""Image properties and tags (mixin of :class:`store_kit.catalog.Catalog`).

Properties are merged (``purge`` drops the others) and tags replaced with
bulk statements; explicit removal deletes the row, ``image_destroy``
soft-deletes them so ``image_restore`` can bring them back.
"""

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models, values as checks
from store_kit.catalog.rows import check_keys, utcnow

properties = models.properties
tags = models.tags


class PropertiesTagsMixin:
    """Property and tag methods of the Catalog."""

    def _set_properties(self, conn, image_id, props, purge, now, atomic=()):
        """Merge ``props`` (checked by :func:`property_items`) into the image's.

        Properties named in ``atomic`` are left alone: neither set nor purged.
        """
        rows = conn.execute(sa.select(properties.c.id, properties.c.name, properties.c.value,
                                      properties.c.deleted)
                            .where(properties.c.image_id == image_id))
        existing = {r.name: r for r in rows if r.name not in atomic}
        props = {k: v for k, v in props.items() if k not in atomic}
        inserts, changes = [], []
        for name, value in props.items():
            old = existing.get(name)
            if old is None:
                inserts.append({'image_id': image_id, 'name': name, 'value': value,
                                'created_at': now, 'updated_at': now, 'deleted': False})
            elif old.deleted or old.value != value:
                changes.append({'b_id': old.id, 'b_value': value})
        if inserts:
            conn.execute(properties.insert(), inserts)
        if changes:
            conn.execute(properties.update().where(properties.c.id == sa.bindparam('b_id'))
                         .values(value=sa.bindparam('b_value'), deleted=False,
                                 deleted_at=None, updated_at=now), changes)
        if purge:
            gone = [r.id for name, r in existing.items() if name not in props]
            if gone:
                conn.execute(properties.delete().where(properties.c.id.in_(gone)))

    def _set_tags(self, conn, image_id, wanted, now, replace=True):
        """Give the image the tags ``wanted`` (checked by :func:`tag_values`)."""
        existing = {r.value: r for r in conn.execute(
            sa.select(tags.c.id, tags.c.value, tags.c.deleted)
            .where(tags.c.image_id == image_id))}
        new = [{'image_id': image_id, 'value': v, 'created_at': now, 'updated_at': now,
                'deleted': False} for v in wanted if v not in existing]
        if new:
            conn.execute(tags.insert(), new)
        revive = [existing[v].id for v in wanted if v in existing and existing[v].deleted]
        if revive:
            conn.execute(tags.update().where(tags.c.id.in_(revive))
                         .values(deleted=False, deleted_at=None, updated_at=now))
        if replace:
            gone = [r.id for v, r in existing.items() if v not in wanted]
            if gone:
                conn.execute(tags.delete().where(tags.c.id.in_(gone)))

    def image_property_create(self, ctx, values):
        """Set one property: ``values = {'image_id', 'name', 'value'}``."""
        checks.caller(ctx)
        values = checks.mapping('property', values)
        check_keys('property', values, {'image_id', 'name', 'value'})
        for key in ('image_id', 'name'):
            if key not in values:
                raise exceptions.Invalid('property needs %r' % (key,))
        image_id = checks.image_id(values['image_id'])
        name, value = property_item(values['name'], values.get('value'))

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            self._set_properties(conn, image['id'], {name: value}, False, utcnow())
            return {'image_id': image['id'], 'name': name, 'value': value}
        return self._run(fn, write=True, what='property %s of image %s' % (name, image_id))

    def image_property_delete(self, ctx, prop_ref, image_ref):
        """Remove property ``prop_ref`` (its name) from image ``image_ref``;
        returns the removed row, marked ``deleted`` at the time of removal."""
        checks.caller(ctx)
        image_ref = checks.image_id(image_ref)
        prop_ref = checks.text('property name', prop_ref)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_ref)
            row = conn.execute(sa.select(properties).where(
                properties.c.image_id == image['id'], properties.c.name == prop_ref,
                properties.c.deleted == sa.false()).with_for_update()).mappings().first()
            # exact, whatever the engine's collation
            if row is None or row['name'] != prop_ref:
                raise exceptions.NotFound('image %s has no property %s'
                                          % (image_ref, checks.shown(prop_ref)))
            conn.execute(properties.delete().where(properties.c.id == row['id']))
            return dict(row, deleted=True, deleted_at=utcnow())
        return self._run(fn, write=True, what='property %s of image %s' % (prop_ref, image_ref))

    def image_set_property_atomic(self, ctx, image_id, name, value):
        """Create property ``name`` = ``value`` only if the image has no such
        live property (a soft-deleted one is revived); else Duplicate.

        Of any number of concurrent callers exactly one succeeds: glance's
        import uses this as its lock. The image row is locked first (as by
        every property write) and the unique (image_id, name) key backs it.
        """
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        name, value = property_item(name, value)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            row = conn.execute(sa.select(properties.c.id, properties.c.deleted).where(
                properties.c.image_id == image['id'], properties.c.name == name)
                .with_for_update()).first()
            now = utcnow()
            if row is None:
                conn.execute(properties.insert().values(
                    image_id=image['id'], name=name, value=value, created_at=now,
                    updated_at=now, deleted=False))
                return
            revived = row.deleted and conn.execute(properties.update().where(
                properties.c.id == row.id, properties.c.deleted == sa.true())
                .values(value=value, deleted=False, deleted_at=None,
                        updated_at=now)).rowcount == 1
            if not revived:
                raise exceptions.Duplicate('image %s already has property %s'
                                           % (image_id, checks.shown(name)))
        return self._run(fn, write=True, what='property %s of image %s'
                         % (checks.shown(name), image_id))

    def image_delete_property_atomic(self, ctx, image_id, name, value):
        """Delete property ``name`` only if its value is exactly ``value``;
        else NotFound. Of concurrent callers exactly one succeeds."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        name, value = property_item(name, value)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            row = conn.execute(sa.select(properties.c.id, properties.c.name,
                                         properties.c.value).where(
                properties.c.image_id == image['id'], properties.c.name == name,
                properties.c.deleted == sa.false()).with_for_update()).first()
            # compared here: exact whatever the engine's collation
            if row is None or row.name != name or row.value != value:
                raise exceptions.NotFound('image %s has no property %s with value %s'
                                          % (image_id, checks.shown(name), checks.shown(value)))
            conn.execute(properties.delete().where(properties.c.id == row.id))
        return self._run(fn, write=True, what='property %s of image %s'
                         % (checks.shown(name), image_id))

    def image_tag_set_all(self, ctx, image_id, tags):
        """Replace the image's tags with ``tags``."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        tags = tag_values(tags)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            self._set_tags(conn, image['id'], tags, utcnow())
        return self._run(fn, write=True, what='tags of image %s' % (image_id,))

    def image_tag_create(self, ctx, image_id, value):
        """Add one tag (adding an existing tag changes nothing); returns it."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        [value] = tag_values([value])

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            self._set_tags(conn, image['id'], [value], utcnow(), replace=False)
            return value
        return self._run(fn, write=True, what='tag %s of image %s'
                         % (checks.shown(value), image_id))

    def image_tag_delete(self, ctx, image_id, value):
        """Remove one tag; NotFound if the image does not carry it."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)
        value = checks.text('tag', value)

        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            done = conn.execute(tags.delete().where(
                tags.c.image_id == image['id'], tags.c.value == value,
                tags.c.deleted == sa.false())).rowcount
            if not done:
                raise exceptions.NotFound('image %s has no tag %s'
                                          % (image_id, checks.shown(value)))
        return self._run(fn, write=True, what='tag %s of image %s'
                         % (checks.shown(value), image_id))

    def image_tag_get_all(self, ctx, image_id):
        """The image's tags, in the order they were added."""
        checks.caller(ctx)
        image_id = checks.image_id(image_id)

        def fn(conn):
            image = self._image_row(conn, ctx, image_id)
            return list(conn.execute(sa.select(tags.c.value).where(
                tags.c.image_id == image['id'], tags.c.deleted == sa.false())
                .order_by(tags.c.id)).scalars())
        return self._run(fn, what='tags of image %s' % (image_id,))


def property_items(props, what='property'):
    """Checked ``{name: value}``: names are non-empty text of at most 255
    characters, values None or text of at most PROPERTY_VALUE_MAX characters
    (numbers and booleans are stored as their text)."""
    checked = {}
    for name, value in props.items():
        name = checks.text('%s name' % what, name, max_length=255, empty=False)
        field = '%s %s value' % (what, checks.shown(name))
        if isinstance(value, (bool, float)) or (
                isinstance(value, int) and value.bit_length() <= 64):
            value = str(value)
        checked[name] = checks.text(field, value, max_length=models.PROPERTY_VALUE_MAX,
                                    nullable=True)
    return checked


def property_item(name, value):
    """One checked ``(name, value)`` pair (see :func:`property_items`)."""
    name = checks.text('property name', name, max_length=255, empty=False)
    return next(iter(property_items({name: value}).items()))


def tag_values(tags, what='tag'):
    """Checked tags, without repeats: one tag or a list of them."""
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, (list, tuple, set, frozenset)):
        raise exceptions.Invalid('%ss must be a list, not %s' % (what, checks.shown(tags)))
    return list(dict.fromkeys(checks.text(what, t, max_length=255, empty=False)
                              for t in tags))
