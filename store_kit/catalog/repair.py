"""Repairs the consistency checker makes (operator actions, no caller
context): retiring a location whose data is gone or wrong, killing an upload
that never finished.  Each is a compare-and-set: a row that changed since
the check saw it is left alone."""

import datetime

import sqlalchemy as sa

from store_kit.catalog import models
from store_kit.catalog.rows import utcnow

images = models.images
locations = models.locations

#: Image statuses of an upload in progress.
UPLOADING = ('saving',)


def _cutoff(older_than):
    if isinstance(older_than, datetime.datetime):
        return older_than
    return utcnow() - datetime.timedelta(seconds=float(older_than))


class RepairMixin:
    """Checker repair methods of :class:`store_kit.catalog.Catalog`."""

    def stale_uploads(self, older_than, limit=None):
        """Live images still ``saving`` whose last change is older than
        *older_than* (a datetime, or seconds ago): ``[{'id', 'owner',
        'updated_at'}]`` by id."""
        query = sa.select(images.c.id, images.c.owner, images.c.updated_at).where(
            images.c.status.in_(UPLOADING), images.c.deleted == sa.false(),
            images.c.updated_at < _cutoff(older_than)).order_by(images.c.id)
        if limit is not None:
            query = query.limit(limit)
        return self._run(lambda conn: [dict(r._mapping) for r in conn.execute(query)],
                         what='stale uploads')

    def kill_stale_upload(self, image_id, older_than):
        """``saving`` -> ``killed`` if the image is still an upload older than
        *older_than*; True when it was killed."""
        def fn(conn):
            return bool(conn.execute(images.update().where(
                images.c.id == image_id, images.c.status.in_(UPLOADING),
                images.c.deleted == sa.false(),
                images.c.updated_at < _cutoff(older_than)).values(
                status='killed', updated_at=utcnow())).rowcount)
        return self._run(fn, write=True, what='image %s' % (image_id,))

    def retire_broken_location(self, location_id):
        """Mark an *active* location whose data is missing or wrong
        ``deleted``; an active image left without an active location goes
        back to ``queued`` (as glance does).  True when the location was
        still active and has been retired."""
        def fn(conn):
            image_id = conn.execute(sa.select(locations.c.image_id).where(
                locations.c.id == location_id)).scalar()
            if image_id is None:
                return False
            image = conn.execute(sa.select(images.c.status).where(
                images.c.id == image_id).with_for_update()).one()
            now = utcnow()
            done = conn.execute(locations.update().where(
                locations.c.id == location_id, locations.c.status == 'active').values(
                status='deleted', deleted_at=now, updated_at=now)).rowcount
            if not done:
                return False
            left = conn.execute(sa.select(sa.func.count()).where(
                locations.c.image_id == image_id, locations.c.status == 'active')).scalar()
            if not left and image.status == 'active':
                conn.execute(images.update().where(images.c.id == image_id).values(
                    status='queued', updated_at=now))
            return True
        return self._run(fn, write=True, what='location %s' % (location_id,))
