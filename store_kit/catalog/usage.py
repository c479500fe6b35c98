"""Usage of one owner, for quotas (mixin of :class:`store_kit.catalog.Catalog`).

The meanings are glance's (``glance.db.sqlalchemy.api``), counted in one
query each, on live (not soft-deleted) images only:

* storage: each image's size once per location that is not ``deleted``, for
  images not ``killed``, ``deleted`` or ``pending_delete``;
* staging: the size of images ``uploading`` or ``importing``, plus that of
  other live images being copied to stores (a non-empty
  ``os_glance_importing_to_stores`` property);
* image count: images not ``killed``, ``deleted`` or ``pending_delete``;
* uploading count: images ``saving``, ``uploading`` or ``importing``, plus
  other live images being copied to stores.

A non-admin caller may ask only about its own project.
"""

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models, values as checks

images = models.images
locations = models.locations
properties = models.properties

GONE = ('killed', 'deleted', 'pending_delete')
STAGING = ('uploading', 'importing')
UPLOADING = ('saving',) + STAGING
#: the property glance sets while it copies an image to more stores
COPYING_PROPERTY = 'os_glance_importing_to_stores'


def _copying():
    """The image has a live, non-empty COPYING_PROPERTY."""
    return sa.exists().where(properties.c.image_id == images.c.id,
                             properties.c.name == COPYING_PROPERTY,
                             properties.c.deleted == sa.false(),
                             properties.c.value.isnot(None), properties.c.value != '')


def _busy(statuses):
    """In one of ``statuses``, or live and being copied to stores."""
    return sa.or_(images.c.status.in_(statuses),
                  sa.and_(images.c.status.notin_(statuses + GONE), _copying()))


class UsageMixin:
    """Quota usage methods of the Catalog."""

    def _usage(self, ctx, owner, what, query, image_id=None):
        """Run ``query`` (a scalar) about ``owner`` after the caller's rights."""
        checks.caller(ctx)
        owner = checks.text('owner', owner)
        if not ctx.is_admin and ctx.owner != owner:
            raise exceptions.Forbidden('project %s may not read the %s of %s'
                                       % (ctx.owner, what, owner))
        live = [images.c.owner == owner, images.c.deleted == sa.false()]

        def fn(conn):
            excluded = []
            if image_id is not None:
                # an image the caller cannot see is not found, never 0
                excluded = [images.c.id != self._image_row(conn, ctx, image_id)['id']]
            return int(conn.execute(query.where(*live, *excluded)).scalar() or 0)
        return self._run(fn, what='%s of %s' % (what, owner))

    def user_get_storage_usage(self, ctx, owner, image_id=None):
        """Bytes ``owner`` stores: each image's size once per location not
        ``deleted`` (images not killed, deleted or pending_delete).

        ``image_id`` leaves that image out (a quota check before its upload);
        ImageNotFound if the caller cannot see it.
        """
        if image_id is not None:
            image_id = checks.image_id(image_id)
        query = sa.select(sa.func.sum(images.c.size)).select_from(
            images.join(locations, locations.c.image_id == images.c.id)).where(
            images.c.size > 0, images.c.status.notin_(GONE),
            locations.c.status != 'deleted')
        return self._usage(ctx, owner, 'storage usage', query, image_id)

    def user_get_staging_usage(self, ctx, owner):
        """Bytes ``owner`` has in staging: images uploading or importing, and
        images being copied to more stores."""
        query = sa.select(sa.func.sum(images.c.size)).where(images.c.size > 0,
                                                            _busy(STAGING))
        return self._usage(ctx, owner, 'staging usage', query)

    def user_get_image_count(self, ctx, owner):
        """How many images ``owner`` has (not killed, deleted or pending_delete)."""
        query = sa.select(sa.func.count()).select_from(images).where(
            images.c.status.notin_(GONE))
        return self._usage(ctx, owner, 'image count', query)

    def user_get_uploading_count(self, ctx, owner):
        """How many of ``owner``'s images are saving, uploading, importing or
        being copied to more stores."""
        query = sa.select(sa.func.count()).select_from(images).where(_busy(UPLOADING))
        return self._usage(ctx, owner, 'uploading count', query)
