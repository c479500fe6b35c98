"""Leases on locations: renewing them during slow work, and taking over
those of processes of this host that died (see :mod:`store_kit.leases`)."""

import datetime

import sqlalchemy as sa

from store_kit import leases
from store_kit.catalog import models
from store_kit.catalog.rows import utcnow

locations = models.locations


def dead_local_owners(conn, where=()):
    """Owners of live leases (rows matching *where*) that are processes of
    this host that no longer run."""
    owners = conn.execute(sa.select(locations.c.lease_owner).where(
        locations.c.lease_until > utcnow(),
        locations.c.lease_owner.like(leases.local_prefix() + '%'), *where)
        .distinct()).scalars().all()
    return [o for o in owners if leases.is_dead_local(o)]


def release_dead_local(conn, where=()):
    """End the leases (rows matching *where*) held by dead local processes;
    returns how many rows were released."""
    dead = dead_local_owners(conn, where)
    if not dead:
        return 0
    return conn.execute(locations.update().where(
        locations.c.lease_owner.in_(dead), *where).values(
        lease_owner=None, lease_until=None)).rowcount


class LeasesMixin:
    """Lease methods of :class:`store_kit.catalog.Catalog`."""

    def renew_leases(self, location_ids, owner, lease_seconds):
        """Extend *owner*'s leases on these pending_delete locations by
        *lease_seconds* from now; returns the ids still leased to it (a
        location restored or taken over meanwhile is not among them)."""
        ids = list(location_ids)
        if not ids:
            return []
        until = utcnow() + datetime.timedelta(seconds=lease_seconds)
        mine = [locations.c.id.in_(ids), locations.c.status == 'pending_delete',
                locations.c.lease_owner == owner]

        def fn(conn):
            conn.execute(locations.update().where(*mine).values(lease_until=until))
            return sorted(conn.execute(sa.select(locations.c.id).where(*mine)).scalars())
        return self._run(fn, write=True, what='leases of %s' % (owner,))

    def release_dead_local_leases(self):
        """Release every lease held by a process of this host that is gone,
        so its work is taken over now rather than when the lease expires."""
        return self._run(release_dead_local, write=True, what='dead leases')
