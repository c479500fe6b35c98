"""The one exception hierarchy of store_kit.

Every error store_kit raises is a :class:`StoreKitError`. Messages name the
offending value (image id, URL, option...) and never carry a secret: URLs are
passed through :func:`store_kit.location.redact` before they reach a message.
"""


class StoreKitError(Exception):
    """Base class of every store_kit error."""

    def __init__(self, message=None):
        self.msg = message or self.__class__.__doc__.strip().splitlines()[0]
        super().__init__(self.msg)

    def __str__(self):
        return self.msg


# -- configuration --------------------------------------------------------

class BadStoreConfiguration(StoreKitError):
    """A store or the registry is misconfigured."""

    def __init__(self, section, option, reason):
        self.section = section
        self.option = option
        self.reason = reason
        where = '[%s] %s' % (section, option) if option else '[%s]' % section
        super().__init__('%s: %s' % (where, reason))


class UnknownStore(StoreKitError, KeyError):
    """No enabled store has this name."""

    def __init__(self, name, known=()):
        self.name = name
        msg = 'unknown store %r' % (name,)
        if known:
            msg += ' (enabled: %s)' % ', '.join(known)
        super().__init__(msg)


# -- data path ------------------------------------------------------------

class NotFound(StoreKitError):
    """The requested object does not exist."""


class Duplicate(StoreKitError):
    """The object already exists."""


class Forbidden(StoreKitError):
    """The backend or the policy refused the operation."""


class StorageFull(StoreKitError):
    """The store has no room left for this image."""


class StorageQuotaFull(StoreKitError):
    """The owner's storage quota would be exceeded."""


class SizeMismatch(StoreKitError):
    """The data was shorter or longer than its declared size."""

    def __init__(self, expected, actual, what='image data'):
        self.expected = expected
        self.actual = actual
        super().__init__('%s size mismatch: expected %d bytes, got %s'
                         % (what, expected, actual))


class ChecksumMismatch(StoreKitError):
    """Stored data does not match the checksum recorded for it."""


class BadStoreUri(StoreKitError):
    """A location URL is malformed or not owned by the store given it."""


class ReadOnlyStore(StoreKitError):
    """The store cannot write or delete."""


class BackendError(StoreKitError):
    """The backend failed; ``code`` carries its own error code if any."""

    def __init__(self, message, code=None):
        self.code = code
        super().__init__(message)


class RemoteUnreachable(BackendError):
    """The remote end of a store could not be reached."""


class MaxRedirectsExceeded(BackendError):
    """Too many redirects, or a redirect loop."""


# -- catalog --------------------------------------------------------------

class Invalid(StoreKitError):
    """A value given to the catalog is not acceptable."""


class Conflict(StoreKitError):
    """The object changed under us (compare-and-set failed)."""


class ImageNotFound(NotFound):
    """No image with this id is visible to the caller."""


class MemberNotFound(NotFound):
    """No such image member."""


class LocationNotFound(NotFound):
    """No such image location."""


class ImageInUse(Conflict):
    """Other images depend on this image."""


class InvalidSortKey(Invalid):
    """A sort key the catalog cannot sort by."""


class InvalidSortDir(Invalid):
    """A sort direction other than asc or desc, or one per key that does not match."""


class InvalidFilterRange(Invalid):
    """A range filter bound that is not an integer, out of range, or min above max."""


class InvalidFilterOperator(Invalid):
    """A filter operator that is unknown or not accepted by that filter."""


class InvalidFilterValue(Invalid):
    """A filter value that cannot be parsed: malformed in: list, bad time."""


class DependencyCycle(Invalid):
    """The dependency would create a cycle."""


class ImageProtected(Forbidden):
    """The image is protected and cannot be deleted."""


class CatalogUnavailable(StoreKitError):
    """The catalog database failed or could not be reached."""
