"""Lease owners: naming them, and telling when one can be taken over now.

Work claimed in the catalog (scrubbing a location, copying an image) is
leased to an owner named ``host:pid:kind-random``.  A lease normally ends
when it expires; one held by a process of *this* host that no longer runs
can be taken over at once (a job killed and restarted on the same node
finishes without waiting out its own lease).  Another host's lease is only
ever taken over once it has expired: we cannot see its processes.
"""

import logging
import os
import socket
import threading
import uuid

from store_kit import exceptions

LOG = logging.getLogger(__name__)


def hostname():
    """This host's name as lease owners spell it."""
    return socket.gethostname()


def new_owner(kind):
    """A lease owner id unique to this process and purpose."""
    return '%s:%d:%s-%s' % (hostname(), os.getpid(), kind, uuid.uuid4().hex[:8])


def _host_pid(owner):
    host, sep, rest = (owner or '').partition(':')
    pid, sep2, _ = rest.partition(':')
    if not sep or not sep2 or not pid.isdigit():
        return None, None
    return host, int(pid)


def is_dead_local(owner):
    """True when *owner* names a process of this host that no longer runs."""
    host, pid = _host_pid(owner)
    if host != hostname() or not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:         # runs, as another user
        return False
    return False


def local_prefix():
    """What every owner of this host starts with (for a LIKE filter)."""
    return hostname() + ':'


class Heartbeat:
    """Calls ``renew()`` every third of *lease_seconds* while a block runs,
    so a lease cannot expire under slow work.  ``renew`` returns False once
    the lease is lost (logged; the work itself cannot be interrupted)."""

    def __init__(self, renew, lease_seconds, what):
        self.renew = renew
        self.interval = lease_seconds / 3.0
        self.what = what
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='store-kit-lease')

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                mine = self.renew()
            except exceptions.StoreKitError as exc:
                LOG.warning('cannot renew the lease on %s: %s', self.what, exc)
                continue
            if not mine:
                self.lost = True
                LOG.error('lost the lease on %s while working on it', self.what)
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
