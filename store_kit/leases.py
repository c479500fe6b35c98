"""Lease owners: naming them, and telling when one can be taken over now.

Work claimed in the catalog (scrubbing a location, copying an image) is
leased to an owner named ``host:pid:kind-random``.  A lease normally ends
when it expires; one held by a process of *this* host that no longer runs
can be taken over at once (a job killed and restarted on the same node
finishes without waiting out its own lease).  Another host's lease is only
ever taken over once it has expired: we cannot see its processes.
"""

import os
import socket
import uuid


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
