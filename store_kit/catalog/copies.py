"""Copies between stores: who copies which image where (leases), and the one
transaction that records a finished copy.

A copy is leased per (image, target store) so that workers on any number of
nodes never copy one image into one store at the same time; the lease is
taken over once expired, or at once when its owner was a process of this
host that died (see :mod:`store_kit.leases`).  :meth:`CopiesMixin.commit_copy`
adds the new location only if the image is still live and active, has no
active copy in the target yet and the lease is still the caller's; with
``retire_location_id`` the source location goes ``pending_delete`` in the
same transaction, so it is never the only copy.
"""

import datetime

import sqlalchemy as sa

from store_kit import exceptions, leases
from store_kit import location as loc_mod
from store_kit.catalog import models
from store_kit.catalog.bulk import STORE_EXPR
from store_kit.catalog.rows import location_dict, utcnow

copy_leases = models.copy_leases
images = models.images
locations = models.locations


class CopiesMixin:
    """Copy methods of :class:`store_kit.catalog.Catalog` (operator actions,
    no caller context)."""

    def acquire_copy_lease(self, image_id, target, owner, lease_seconds):
        """Lease (*image_id*, *target*) to *owner*; False if someone else
        holds a live lease on it."""
        def fn(conn):
            now = utcnow()
            until = now + datetime.timedelta(seconds=lease_seconds)
            key = [copy_leases.c.image_id == image_id, copy_leases.c.target == target]
            row = conn.execute(sa.select(copy_leases).where(*key).with_for_update()).first()
            if row is None:
                conn.execute(copy_leases.insert().values(
                    image_id=image_id, target=target, lease_owner=owner, lease_until=until))
                return True
            if (row.lease_owner == owner or row.lease_until < now
                    or leases.is_dead_local(row.lease_owner)):
                conn.execute(copy_leases.update().where(*key).values(
                    lease_owner=owner, lease_until=until))
                return True
            return False
        return self._run(fn, write=True, what='copy lease of image %s' % (image_id,))

    def renew_copy_lease(self, image_id, target, owner, lease_seconds):
        """Extend *owner*'s lease; False when it is no longer *owner*'s."""
        until = utcnow() + datetime.timedelta(seconds=lease_seconds)
        return self._run(lambda conn: bool(conn.execute(copy_leases.update().where(
            copy_leases.c.image_id == image_id, copy_leases.c.target == target,
            copy_leases.c.lease_owner == owner).values(lease_until=until)).rowcount),
            write=True, what='copy lease of image %s' % (image_id,))

    def release_copy_lease(self, image_id, target, owner):
        """Drop *owner*'s lease (a no-op when it is someone else's)."""
        self._run(lambda conn: conn.execute(copy_leases.delete().where(
            copy_leases.c.image_id == image_id, copy_leases.c.target == target,
            copy_leases.c.lease_owner == owner)), write=True,
            what='copy lease of image %s' % (image_id,))

    def commit_copy(self, image_id, target, url, metadata, owner, retire_location_id=None):
        """Record a verified copy of *image_id* in store *target* at *url*.

        One transaction: the image must still be live and ``active``, have
        no active location in *target* (by ``metadata['store']``), and the
        lease must still be *owner*'s; otherwise Conflict, and nothing
        changes.  With *retire_location_id* that location of the image, if
        still active, becomes ``pending_delete`` in the same transaction.
        The lease is released.  Returns the new location.
        """
        def fn(conn):
            image = conn.execute(sa.select(images.c.status, images.c.deleted).where(
                images.c.id == image_id).with_for_update()).first()
            if image is None or image.deleted or image.status != 'active':
                raise exceptions.Conflict('image %s is %s: copy not recorded' % (
                    image_id, 'gone' if image is None else
                    'deleted' if image.deleted else image.status))
            held = conn.execute(sa.select(copy_leases.c.lease_owner).where(
                copy_leases.c.image_id == image_id,
                copy_leases.c.target == target)).scalar()
            if held != owner:
                raise exceptions.Conflict('image %s: the copy lease into %s is no longer %s'
                                          % (image_id, target, owner))
            store_expr = sa.literal_column(STORE_EXPR[self._sql_dialect])
            there = conn.execute(sa.select(locations.c.id).where(
                locations.c.image_id == image_id, locations.c.status == 'active',
                store_expr == target)).first()
            if there is not None:
                raise exceptions.Conflict('image %s already has location %s in store %s'
                                          % (image_id, there.id, target))
            now = utcnow()
            values = {'image_id': image_id, 'url': url, 'url_key': loc_mod.url_key(url),
                      'meta_data': dict(metadata or {}, store=target), 'status': 'active',
                      'created_at': now, 'updated_at': now, 'attempts': 0}
            new_id = conn.execute(locations.insert().values(values)).inserted_primary_key[0]
            if retire_location_id is not None:      # (a no-op if removed meanwhile)
                conn.execute(locations.update().where(
                    locations.c.id == retire_location_id, locations.c.image_id == image_id,
                    locations.c.status == 'active').values(
                    status='pending_delete', delete_time=now, updated_at=now))
            conn.execute(images.update().where(images.c.id == image_id).values(updated_at=now))
            conn.execute(copy_leases.delete().where(copy_leases.c.image_id == image_id,
                                                    copy_leases.c.target == target))
            return location_dict(conn.execute(sa.select(locations).where(
                locations.c.id == new_id)).one())
        return self._run(fn, write=True, what='copy of image %s into %s' % (image_id, target))
