"""The scrubber: deletes the data of ``pending_delete`` locations.

Work is claimed in the catalog with a lease (``SKIP LOCKED`` where the engine
has it, a conditional UPDATE elsewhere), so any number of scrubbers can run
on any number of nodes: a location is deleted by the scrubber holding its
lease, and one whose scrubber died is taken over once the lease expires (at
once when that scrubber was a process of this host).

Before deleting, the scrubber re-checks under a renewed lease that the
location is still pending_delete and its own (a restore may have won), and
that no other non-deleted location references the same data under any
spelling: shared data is kept and only the location is retired.  While a
store delete runs, a heartbeat keeps the lease renewed, so a slow delete
never lets a restore in.  A store's NotFound counts as done; other failures
are recorded on the row and retried later with exponential backoff.
"""

import datetime
import logging
import time

from store_kit import config
from store_kit import exceptions
from store_kit import leases
from store_kit import location as loc_mod

LOG = logging.getLogger(__name__)

#: Stop working on a claimed batch once this share of the lease is used up,
#: so a slow store never lets the lease expire under a running delete.
LEASE_SAFETY = 0.5


def default_owner():
    """A lease owner id unique to this process: ``host:pid:scrubber-random``."""
    return leases.new_owner('scrubber')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Scrubber:
    """Delete pending_delete data whose delete time + ``scrub_time`` passed.

    ``db`` is a :class:`~store_kit.catalog.Catalog`, ``registry`` a
    :class:`~store_kit.StoreRegistry`.
    """

    def __init__(self, db, registry, scrub_time=0, lease_seconds=300,
                 batch_size=100, retry_seconds=60, max_retry_seconds=3600,
                 owner=None):
        if scrub_time < 0 or lease_seconds <= 0 or batch_size <= 0:
            raise exceptions.Invalid(
                'scrubber needs scrub_time >= 0, lease_seconds > 0 and '
                'batch_size > 0 (got %r, %r, %r)'
                % (scrub_time, lease_seconds, batch_size))
        self.db = db
        self.registry = registry
        self.scrub_time = scrub_time
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.owner = owner or default_owner()

    @classmethod
    def from_conf(cls, conf, db, registry):
        """A scrubber configured from the ``[scrubber]`` options (a bad value
        is a BadStoreConfiguration naming section and option)."""
        config.check_group(conf, 'scrubber')
        s = conf.scrubber
        return cls(db, registry, scrub_time=s.scrub_time,
                   lease_seconds=s.lease_seconds, batch_size=s.batch_size,
                   retry_seconds=s.retry_seconds,
                   max_retry_seconds=s.max_retry_seconds)

    def run_once(self, progress=None, image_id=None):
        """Scrub everything that is due now; return how many were deleted.

        *progress*, if given, is called with ``(done, failed)`` after each
        location; *image_id* limits the pass to that image's locations.
        """
        done = failed = 0
        seen = set()
        self.db.release_dead_local_leases()
        while True:
            older_than = utcnow() - datetime.timedelta(seconds=self.scrub_time)
            claimed_at = time.monotonic()
            batch = self.db.claim_pending_deletes(
                self.owner, older_than, self.batch_size, self.lease_seconds,
                image_id=image_id)
            batch = [loc for loc in batch if loc['id'] not in seen]
            if not batch:
                return done
            deadline = claimed_at + self.lease_seconds * LEASE_SAFETY
            for loc in batch:
                if time.monotonic() > deadline:
                    LOG.warning('scrubber %s: lease running out, leaving %d '
                                'claimed locations to the next pass',
                                self.owner, len(batch))
                    break
                seen.add(loc['id'])
                if self.scrub_location(loc):
                    done += 1
                else:
                    failed += 1
                if progress is not None:
                    progress(done, failed)

    def scrub_location(self, loc):
        """Delete the data of one claimed location; True when done.

        The data stays when another non-deleted location references it
        (the location alone is retired).
        """
        url = loc['url']
        if not self.db.renew_leases([loc['id']], self.owner, self.lease_seconds):
            LOG.warning('scrubber %s: location %s was restored or taken over; '
                        'left alone', self.owner, loc['id'])
            return False
        others = self.db.location_references(self.registry.equivalent_keys(url),
                                             exclude_ids=[loc['id']])
        if others:
            LOG.info('scrubber: the data of location %s (%s) is still referenced by '
                     'image%s %s: kept', loc['id'], loc_mod.redact(url),
                     's' if len(others) > 1 else '',
                     ', '.join(sorted({o['image_id'] for o in others})))
        else:
            try:
                with leases.Heartbeat(
                        lambda: self.db.renew_leases([loc['id']], self.owner,
                                                     self.lease_seconds),
                        self.lease_seconds, 'location %s' % loc['id']):
                    self.registry.delete(url, store=self.registry.store_of(loc))
            except exceptions.NotFound:
                LOG.info('scrubber: %s was already gone', loc_mod.redact(url))
            except Exception as exc:  # noqa: BLE001 -- recorded, retried later
                error = _error_line(exc)
                delay = self._backoff(loc.get('attempts') or 0)
                LOG.warning('scrubber: deleting location %s (%s) failed, retry in '
                            '%ds: %s', loc['id'], loc_mod.redact(url), delay, error)
                self.db.fail_pending_delete(loc['id'], self.owner, error, delay)
                return False
        if not self.db.complete_pending_delete(loc['id'], self.owner):
            LOG.warning('scrubber %s: lost the lease on location %s',
                        self.owner, loc['id'])
            return False
        return True

    def _backoff(self, attempts):
        return int(min(self.max_retry_seconds,
                       self.retry_seconds * (2 ** min(attempts, 30))))

    def restore(self, ctx, image_id):
        """Bring a pending_delete image back to active (see Catalog)."""
        return self.db.image_restore(ctx, image_id)


def _error_line(exc):
    """One line naming the error, with any URL credentials removed."""
    text = str(exc).splitlines()[0] if str(exc) else ''
    return ('%s: %s' % (type(exc).__name__,
                        loc_mod.redact_text(text)))[:1000]
