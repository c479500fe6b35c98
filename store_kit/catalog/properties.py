"""Image properties and tags (mixin of :class:`store_kit.catalog.Catalog`).

Properties are merged (``purge`` drops the others) and tags replaced with
bulk statements; explicit removal deletes the row, ``image_destroy``
soft-deletes them so ``image_restore`` can bring them back.
"""

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models
from store_kit.catalog.rows import check_keys, utcnow

properties = models.properties
tags = models.tags


class PropertiesTagsMixin:
    """Property and tag methods of the Catalog."""

    def _set_properties(self, conn, image_id, props, purge, now):
        if not isinstance(props, dict):
            raise exceptions.Invalid('properties of image %s must be a dict, not %r'
                                     % (image_id, type(props).__name__))
        existing = {r.name: r for r in conn.execute(
            sa.select(properties.c.id, properties.c.name, properties.c.value,
                      properties.c.deleted).where(properties.c.image_id == image_id))}
        inserts, changes = [], []
        for name, value in props.items():
            value = _property_value(image_id, name, value)
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

    def _set_tags(self, conn, image_id, values, now, replace=True):
        if isinstance(values, str):
            values = [values]
        wanted = list(dict.fromkeys(_tag_value(image_id, v) for v in values))
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
        values = dict(values)
        check_keys('property', values, {'image_id', 'name', 'value'})
        for key in ('image_id', 'name'):
            if key not in values:
                raise exceptions.Invalid('property needs %r' % (key,))

        def fn(conn):
            image = self._mutable_image(conn, ctx, values['image_id'])
            self._set_properties(conn, image['id'], {values['name']: values.get('value')},
                                 False, utcnow())
            return {'image_id': image['id'], 'name': values['name'],
                    'value': _property_value(image['id'], values['name'], values.get('value'))}
        return self._run(fn, write=True, what='property %s of image %s'
                         % (values['name'], values['image_id']))

    def image_property_delete(self, ctx, prop_ref, image_ref):
        """Remove property ``prop_ref`` (its name) from image ``image_ref``."""
        def fn(conn):
            image = self._mutable_image(conn, ctx, image_ref)
            done = conn.execute(properties.delete().where(
                properties.c.image_id == image['id'], properties.c.name == prop_ref,
                properties.c.deleted == sa.false())).rowcount
            if not done:
                raise exceptions.NotFound('image %s has no property %r' % (image_ref, prop_ref))
        return self._run(fn, write=True, what='property %s of image %s' % (prop_ref, image_ref))

    def image_tag_set_all(self, ctx, image_id, tags):
        """Replace the image's tags with ``tags``."""
        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            self._set_tags(conn, image['id'], tags, utcnow())
        return self._run(fn, write=True, what='tags of image %s' % (image_id,))

    def image_tag_create(self, ctx, image_id, value):
        """Add one tag (adding an existing tag changes nothing); returns it."""
        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            self._set_tags(conn, image['id'], [value], utcnow(), replace=False)
            return value
        return self._run(fn, write=True, what='tag %r of image %s' % (value, image_id))

    def image_tag_delete(self, ctx, image_id, value):
        """Remove one tag; NotFound if the image does not carry it."""
        def fn(conn):
            image = self._mutable_image(conn, ctx, image_id)
            done = conn.execute(tags.delete().where(
                tags.c.image_id == image['id'], tags.c.value == value,
                tags.c.deleted == sa.false())).rowcount
            if not done:
                raise exceptions.NotFound('image %s has no tag %r' % (image_id, value))
        return self._run(fn, write=True, what='tag %r of image %s' % (value, image_id))

    def image_tag_get_all(self, ctx, image_id):
        """The image's tags, in the order they were added."""
        def fn(conn):
            image = self._image_row(conn, ctx, image_id)
            return list(conn.execute(sa.select(tags.c.value).where(
                tags.c.image_id == image['id'], tags.c.deleted == sa.false())
                .order_by(tags.c.id)).scalars())
        return self._run(fn, what='tags of image %s' % (image_id,))


def _property_value(image_id, name, value):
    if not isinstance(name, str) or not name or len(name) > 255:
        raise exceptions.Invalid('image %s: bad property name %r' % (image_id, name))
    if value is None:
        return None
    value = value if isinstance(value, str) else str(value)
    if len(value) > models.PROPERTY_VALUE_MAX:
        raise exceptions.Invalid('image %s: property %r is longer than %d characters'
                                 % (image_id, name, models.PROPERTY_VALUE_MAX))
    return value


def _tag_value(image_id, value):
    if not isinstance(value, str) or not value or len(value) > 255:
        raise exceptions.Invalid('image %s: bad tag %r' % (image_id, value))
    return value
