"""store_kit errors as the glance_store exceptions glance understands.

The one place where the mapping lives: the adapters wrap every call into a
store_kit store with :func:`translate`.  Messages are store_kit's (they name
the value, never a secret) and the store_kit exception is not chained, so
no third-party text reaches glance's logs through a traceback.
"""

import contextlib

from glance_store import exceptions as gs

from store_kit import exceptions as sk
from store_kit import location


def _by_action(add, delete, other):
    def make(exc, msg, action):
        cls = {'add': add, 'delete': delete}.get(action, other)
        return cls(msg)
    return make


def _plain(cls):
    return lambda exc, msg, action: cls(msg)


def _bad_config(exc, msg, action):
    return gs.BadStoreConfiguration(store_name=exc.section, reason=msg)


def _size(exc, msg, action):
    # Short or long input on add is the client's doing; a short read is the
    # backend's.
    return gs.Invalid(msg) if action == 'add' else gs.BackendException(msg)


#: (store_kit class, maker) — the first class the error is an instance of
#: wins, so subclasses come before their bases.
RULES = (
    (sk.BadStoreConfiguration, _bad_config),
    (sk.UnknownStore, _plain(gs.UnknownScheme)),
    (sk.NotFound, _plain(gs.NotFound)),
    (sk.Duplicate, _plain(gs.Duplicate)),
    (sk.StorageFull, _plain(gs.StorageFull)),
    (sk.StorageQuotaFull, _plain(gs.StorageFull)),
    (sk.ReadOnlyStore, _by_action(gs.StoreAddDisabled,
                                  gs.StoreDeleteNotSupported,
                                  gs.StoreGetNotSupported)),
    (sk.Forbidden, _by_action(gs.StorageWriteDenied, gs.Forbidden,
                              gs.Forbidden)),
    (sk.SizeMismatch, _size),
    (sk.BadStoreUri, _plain(gs.BadStoreUri)),
    (sk.Invalid, _plain(gs.Invalid)),
    (sk.MaxRedirectsExceeded, _plain(gs.MaxRedirectsExceeded)),
    (sk.RemoteUnreachable, _plain(gs.RemoteServiceUnavailable)),
)


def to_glance(exc, action='get'):
    """The glance_store exception for store_kit error *exc* raised while
    doing *action* (``add``, ``get``, ``delete``, ``get_size``...)."""
    msg = location.redact_text(str(exc))
    for cls, make in RULES:
        if isinstance(exc, cls):
            return make(exc, msg, action)
    return gs.BackendException(msg)


@contextlib.contextmanager
def translate(action):
    """Re-raise store_kit errors of the block as glance_store ones."""
    try:
        yield
    except sk.StoreKitError as exc:
        raise to_glance(exc, action) from None
