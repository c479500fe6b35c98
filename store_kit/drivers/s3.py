"""The S3 store: images as objects in one bucket of an S3-compatible service.

One boto3 client per store, created on first use (``configure()`` never
touches the network) and shared by every thread.  An image whose size is
known and below ``s3_store_large_object_size`` goes up in a single PUT once
it has been read in full; anything else is a multipart upload with at most
``s3_store_thread_pools`` parts in flight plus the one being read, every
part's result checked, and the upload aborted on any failure (the input
raising and a size mismatch included), so no orphan upload is left behind.

Location URLs are ``s3://<host[:port]>/<bucket>/<image id>``; they never
carry credentials.  Legacy glance URLs with ``ACCESS:SECRET@`` are read with
the store's own credentials, whatever the URL holds.
"""

import concurrent.futures
import contextlib
import datetime
import logging
import math
import os
import re
import threading
import urllib.parse

import boto3
from botocore import config as botocore_config
from botocore import exceptions as boto_exc
from oslo_config import cfg

from store_kit import driver
from store_kit import exceptions
from store_kit import location

LOG = logging.getLogger(__name__)

MiB = 1 << 20
GiB = 1 << 30
MIN_PART_SIZE = 5 * MiB          # S3 minimum for every part but the last
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10000
MAX_SINGLE_PUT = 5 * GiB
MAX_OBJECT_SIZE = 5 * 1024 * GiB
#: For unknown sizes the part size doubles every this many parts, so 10,000
#: parts of at least 5 MiB reach the 5 TiB S3 object limit.
PARTS_PER_TIER = 1000
READ_CHUNK_SIZE = MiB
DEFAULT_REGION = 'us-east-1'

OPTIONS = [
    cfg.StrOpt('s3_store_host',
               help='S3 endpoint: "http://host[:port]", "https://host[:port]" '
                    'or a bare "host[:port]" (https is then used), e.g. '
                    '"s3.amazonaws.com" or "http://127.0.0.1:5000". The URL '
                    'prefix of the store is s3://<host[:port]>/<bucket>. '
                    'Required.'),
    cfg.StrOpt('s3_store_region_name', default='',
               help='Region used to sign requests (SigV4). Empty means '
                    '"%s", which S3-compatible services accept.'
                    % DEFAULT_REGION),
    cfg.StrOpt('s3_store_access_key', secret=True,
               help='Access key id. Required. Never written into location '
                    'URLs, messages or logs.'),
    cfg.StrOpt('s3_store_secret_key', secret=True,
               help='Secret access key. Required. Never written into '
                    'location URLs, messages or logs.'),
    cfg.StrOpt('s3_store_bucket',
               help='Bucket holding the images. Required. Today\'s S3 rules '
                    'are 3-63 lower-case letters, digits, "." and "-"; '
                    'legacy names (up to 255 characters, upper case, "_") '
                    'are accepted with path-style addressing.'),
    cfg.BoolOpt('s3_store_create_bucket_on_put', default=False,
                help='Create the bucket on the first add() when it does not '
                     'exist. When false, adding to a missing bucket fails '
                     'with an error naming it.'),
    cfg.StrOpt('s3_store_bucket_url_format', default='auto',
               choices=[('auto', 'virtual-hosted style for AWS hosts '
                                 '(*.amazonaws.com) when the bucket name '
                                 'allows it, path style for anything else'),
                        ('path', 'https://host/bucket/key'),
                        ('virtual', 'https://bucket.host/key')],
               help='How the bucket is addressed in request URLs. Does not '
                    'change location URLs.'),
    cfg.IntOpt('s3_store_large_object_size', default=100,
               help='Images of known size below this many MiB are uploaded '
                    'in a single PUT (held in memory while read); larger '
                    'ones and images of unknown size use a multipart upload. '
                    '0 means always multipart; at most 5120 (the S3 '
                    'single-PUT limit).'),
    cfg.IntOpt('s3_store_large_object_chunk_size', default=10,
               help='Part size in MiB of multipart uploads, 5 (the S3 '
                    'minimum) to 5120. '
                    'Grown automatically so an image never needs more than '
                    '10,000 parts.'),
    cfg.IntOpt('s3_store_thread_pools', default=10,
               help='Parts of one multipart upload sent in parallel (1 to '
                    '256). At most this many parts plus one are held in '
                    'memory per upload.'),
    cfg.StrOpt('s3_store_cacert', default='',
               help='CA bundle (PEM file) used to verify an https endpoint. '
                    'Empty uses the system/certifi bundle. TLS is always '
                    'verified.'),
    cfg.FloatOpt('s3_store_connect_timeout', default=10.0,
                 help='Seconds (> 0) to wait for a TCP/TLS connection to '
                      'the endpoint.'),
    cfg.FloatOpt('s3_store_read_timeout', default=60.0,
                 help='Seconds (> 0) to wait for the endpoint to answer or '
                      'to send more data on an open connection.'),
    cfg.IntOpt('s3_store_max_retries', default=4,
               help='Retries (0 to 20) of a failed request (throttling, 5xx, '
                    'connection errors) before giving up; botocore\'s '
                    '"standard" retry mode with backoff.'),
]

_BUCKET_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$')
_DNS_BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')


# -- pure helpers (unit-tested directly) ----------------------------------

def part_size_for(size, chunk_size):
    """Part size for a multipart upload of *size* bytes (0 = unknown).

    At least *chunk_size*, and large enough (rounded up to a whole MiB) that
    *size* fits in :data:`MAX_PARTS` parts.  Raises :class:`Invalid` for a
    size beyond the S3 object limit.
    """
    if size > MAX_OBJECT_SIZE:
        raise exceptions.Invalid('image size %d bytes exceeds the S3 object '
                                 'limit of %d bytes' % (size, MAX_OBJECT_SIZE))
    if size <= 0:
        return chunk_size
    needed = -(-size // MAX_PARTS)
    needed = -(-needed // MiB) * MiB
    return min(max(chunk_size, needed), MAX_PART_SIZE)


def blocks_in_part(number, chunk_size):
    """How many *chunk_size* blocks make part *number* of an unknown-size
    upload: 1 for the first 1,000 parts, then doubling every 1,000."""
    return min(1 << ((number - 1) // PARTS_PER_TIER),
               max(1, MAX_PART_SIZE // chunk_size))


def addressing_style(url_format, host, bucket):
    """botocore ``addressing_style`` for *url_format* ('auto'/'path'/
    'virtual') on endpoint *host* (no port)."""
    if url_format != 'auto':
        return url_format
    host = host.lower().rstrip('.')
    if (host == 'amazonaws.com' or host.endswith('.amazonaws.com')) and (
            _DNS_BUCKET_RE.match(bucket) and '.' not in bucket):
        return 'virtual'
    return 'path'


def parse_endpoint(value):
    """``(scheme, host, port)`` of an ``s3_store_host`` value.

    *host* is lower-case (IPv6 in brackets), *port* None when absent or the
    scheme's default.  Raises ValueError with a reason (never echoing
    credentials) when the value is unusable.
    """
    value = (value or '').strip()
    if not value:
        raise ValueError('is required (e.g. "s3.amazonaws.com" or '
                         '"http://127.0.0.1:5000")')
    if '://' not in value:
        value = 'https://' + value
    split = urllib.parse.urlsplit(value)
    scheme = split.scheme.lower()
    if scheme not in ('http', 'https'):
        raise ValueError('scheme %r is not http or https' % scheme)
    if '@' in split.netloc:
        raise ValueError('must not hold credentials; use s3_store_access_key '
                         'and s3_store_secret_key')
    if split.path.strip('/') or split.query or split.fragment:
        raise ValueError('%r must be scheme://host[:port] with no path'
                         % value)
    host = split.hostname
    if not host:
        raise ValueError('%r has no host' % value)
    try:
        port = split.port
    except ValueError:
        raise ValueError('%r has a bad port' % value)
    if port == 0:
        raise ValueError('%r has a bad port' % value)
    if ':' in host:
        host = '[%s]' % host
    if port == {'http': 80, 'https': 443}[scheme]:
        port = None
    return scheme, host, port


#: Third-party loggers that may log our requests (headers, URLs).
_LOG_FAMILIES = ('botocore', 'boto3', 'urllib3', 's3transfer')


class _Credentials:
    """Holds the key pair; its repr never shows them."""

    __slots__ = ('access_key', 'secret_key')

    def __init__(self, access_key, secret_key):
        self.access_key = access_key
        self.secret_key = secret_key

    def __repr__(self):
        return '<credentials ***>'


# -- location -------------------------------------------------------------

class S3Location(location.StoreLocation):
    """An ``s3://host[:port]/bucket/key`` location (``s3+http(s)`` too);
    ``key`` is the percent-decoded object key.

    Credentials a legacy URL may hold are parsed and ignored: ``url`` never
    shows them.
    """

    def __init__(self, store_name, parsed):
        super().__init__(store_name, parsed)
        if parsed.family != 's3':
            raise exceptions.BadStoreUri('not an s3 location: %s'
                                         % location.redact(self.url))
        if parsed.segments is None or len(parsed.segments) < 2:
            raise exceptions.BadStoreUri(
                's3 location %s needs a bucket and a key'
                % location.redact(self.url))
        self.bucket = parsed.segments[0]
        # add() percent-encodes the key; glance's keys are plain UUIDs.  An
        # escape that is not UTF-8 designates no key (not U+FFFD's).
        try:
            self.key = urllib.parse.unquote('/'.join(parsed.segments[1:]),
                                            errors='strict')
        except UnicodeDecodeError:
            raise exceptions.BadStoreUri(
                's3 location %s: the key is not UTF-8 once percent-decoded'
                % location.redact(self.url)) from None

    @property
    def url(self):
        p = self.parsed
        return 's3://%s%s' % (p.netloc, p.path)


# -- the store ------------------------------------------------------------

class S3Store(driver.Store):
    """Images as objects in one S3 bucket."""

    driver_name = 's3'
    schemes = ('s3', 's3+http', 's3+https')
    options = OPTIONS
    capabilities = driver.Capabilities.ALL
    location_class = S3Location

    def configure(self):
        opt = self._opt
        try:
            scheme, host, port = parse_endpoint(opt('s3_store_host'))
        except ValueError as exc:
            raise self.bad_option('s3_store_host', str(exc))
        self.endpoint_host, self.endpoint_port = host, port
        netloc = host if port is None else '%s:%d' % (host, port)
        self.endpoint_url = '%s://%s' % (scheme, netloc)

        bucket = (opt('s3_store_bucket') or '').strip()
        if not bucket:
            raise self.bad_option('s3_store_bucket', 'is required')
        if not _BUCKET_RE.match(bucket) or '..' in bucket:
            raise self.bad_option(
                's3_store_bucket', 'bad bucket name %r: 3-255 characters of '
                'letters, digits, ".", "-" and "_"' % bucket)
        self.bucket = bucket
        url_format = opt('s3_store_bucket_url_format')
        if url_format not in ('auto', 'path', 'virtual'):
            raise self.bad_option('s3_store_bucket_url_format',
                                  '%r is not auto, path or virtual'
                                  % url_format)
        if url_format == 'virtual' and not _DNS_BUCKET_RE.match(bucket):
            raise self.bad_option(
                's3_store_bucket_url_format',
                'bucket %r is not a DNS name: it cannot be addressed '
                'virtual-hosted style; use path' % bucket)
        self.addressing_style = addressing_style(url_format, host.strip('[]'),
                                                 bucket)

        access, secret = opt('s3_store_access_key'), opt('s3_store_secret_key')
        if not access:
            raise self.bad_option('s3_store_access_key', 'is required')
        if not secret:
            raise self.bad_option('s3_store_secret_key', 'is required')
        self._creds = _Credentials(access, secret)
        driver.SECRET_FILTER.add(access, secret)

        self.region = (opt('s3_store_region_name') or '').strip() or (
            DEFAULT_REGION)
        self.create_bucket_on_put = opt('s3_store_create_bucket_on_put')
        self.large_object_size = self._int_opt(
            's3_store_large_object_size', 0, MAX_SINGLE_PUT // MiB) * MiB
        self.chunk_size = self._int_opt(
            's3_store_large_object_chunk_size', MIN_PART_SIZE // MiB,
            MAX_PART_SIZE // MiB) * MiB
        self.thread_pools = self._int_opt('s3_store_thread_pools', 1, 256)
        self.max_retries = self._int_opt('s3_store_max_retries', 0, 20)
        self.connect_timeout = self._positive_opt('s3_store_connect_timeout')
        self.read_timeout = self._positive_opt('s3_store_read_timeout')
        cacert = (opt('s3_store_cacert') or '').strip()
        if cacert and not os.path.isfile(cacert):
            raise self.bad_option('s3_store_cacert',
                                  'CA bundle %r is not a file' % cacert)
        self.cacert = cacert or None

        self.url_prefixes = ['s3://%s/%s' % (netloc, bucket)]
        self._client = None
        self._probe_client = None
        self._client_lock = threading.Lock()
        self._bucket_ready = False

    def _opt(self, name):
        """Value of option *name*; a bad value is a BadStoreConfiguration."""
        try:
            return getattr(self.group, name)
        except (cfg.ConfigFileValueError, ValueError) as exc:
            secret = name in ('s3_store_access_key', 's3_store_secret_key')
            raise self.bad_option(name, 'invalid value' if secret
                                  else 'invalid value: %s' % exc)

    def _positive_opt(self, name):
        value = self._opt(name)
        if not (math.isfinite(value) and value > 0):
            raise self.bad_option(name, 'must be a finite number > 0, got %r'
                                  % (value,))
        return value

    def _int_opt(self, name, low, high):
        value = self._opt(name)
        if not low <= value <= high:
            raise self.bad_option(name, '%r is out of range [%d, %d]'
                                  % (value, low, high))
        return value

    # -- clients -------------------------------------------------------------

    def _make_client(self, connect_timeout, read_timeout, attempts):
        session = boto3.session.Session(
            aws_access_key_id=self._creds.access_key,
            aws_secret_access_key=self._creds.secret_key,
            region_name=self.region)
        conf = botocore_config.Config(
            signature_version='s3v4',
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={'total_max_attempts': attempts, 'mode': 'standard'},
            max_pool_connections=max(10, self.thread_pools + 4),
            s3={'addressing_style': self.addressing_style},
            user_agent_extra='store-kit')
        try:
            client = session.client('s3', endpoint_url=self.endpoint_url,
                                    verify=self.cacert or True, config=conf)
        except boto_exc.BotoCoreError as exc:
            raise exceptions.BackendError(
                's3 store %r: cannot create a client for %s: %s'
                % (self.name, self.endpoint_url, driver.SECRET_FILTER.scrub(str(exc))))
        driver.filter_logs(_LOG_FAMILIES)
        return client

    @property
    def client(self):
        """The store's boto3 client (thread-safe, created on first use)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client(
                        self.connect_timeout, self.read_timeout,
                        self.max_retries + 1)
        return self._client

    def _probe(self):
        if self._probe_client is None:
            with self._client_lock:
                if self._probe_client is None:
                    self._probe_client = self._make_client(
                        min(3.0, self.connect_timeout),
                        min(5.0, self.read_timeout), 1)
        return self._probe_client

    def __repr__(self):
        return '<S3Store %s %s>' % (self.name, self.url_prefix)

    # -- errors ----------------------------------------------------------------

    def _where(self, bucket, key=None):
        where = 's3://%s/%s' % (self._netloc(), bucket)
        return where if key is None else '%s/%s' % (where, key)

    def _netloc(self):
        if self.endpoint_port is None:
            return self.endpoint_host
        return '%s:%d' % (self.endpoint_host, self.endpoint_port)

    @contextlib.contextmanager
    def _errors(self, action, bucket, key=None):
        """Map botocore errors of *action* on bucket/key to store_kit ones."""
        try:
            yield
        except boto_exc.ClientError as exc:
            raise self._client_error(exc, action, bucket, key) from exc
        except (boto_exc.ConnectionError, boto_exc.HTTPClientError) as exc:
            raise exceptions.RemoteUnreachable(
                's3 store %r: %s %s failed: cannot reach %s: %s'
                % (self.name, action, self._where(bucket, key),
                   self.endpoint_url, driver.SECRET_FILTER.scrub(str(exc)))) from exc
        except boto_exc.BotoCoreError as exc:
            raise exceptions.BackendError(
                's3 store %r: %s %s failed: %s'
                % (self.name, action, self._where(bucket, key),
                   driver.SECRET_FILTER.scrub(str(exc)))) from exc

    def _client_error(self, exc, action, bucket, key):
        err = exc.response.get('Error', {})
        code = str(err.get('Code') or '')
        status = exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode')
        what = self._where(bucket, key)
        message = driver.SECRET_FILTER.scrub(str(err.get('Message') or ''))
        detail = 's3 store %r: %s %s failed: %s (HTTP %s)%s' % (
            self.name, action, what, code or 'error', status,
            ': ' + message if message else '')
        if code == 'NoSuchBucket':
            self._bucket_ready = False
            return exceptions.NotFound(
                's3 store %r: bucket %r does not exist at %s'
                % (self.name, bucket, self.endpoint_url))
        if status == 404 or code in ('404', 'NoSuchKey', 'NotFound'):
            return exceptions.NotFound('s3 store %r: %s not found'
                                       % (self.name, what))
        if status == 403 or code in ('403', 'AccessDenied'):
            return exceptions.Forbidden(detail)
        return exceptions.BackendError(detail, code=code or None)

    # -- locations -------------------------------------------------------------

    #: S3's limit on object keys.
    max_image_id_bytes = 1024

    def _url_for(self, image_id):
        return 's3://%s/%s/%s' % (self._netloc(), self.bucket,
                                  urllib.parse.quote(image_id, safe=''))

    def _image_id_of(self, loc):
        return loc.key if loc.bucket == self.bucket else None

    # -- write -----------------------------------------------------------------

    def write_block_size(self, size):
        """1 MiB blocks for a single PUT (small copies waiting in the hash
        queues); one part per block for a multipart of known size; the
        configured part size when the size is unknown."""
        if size and size < self.large_object_size:
            return driver.DEFAULT_BLOCK_SIZE
        if size:
            return part_size_for(size, self.chunk_size)
        return self.chunk_size

    def _add(self, image_id, reader):
        bucket, key = self.bucket, image_id
        size = reader.expected_size
        self._ensure_bucket()
        # Check-then-act: two concurrent adds of one image id may both pass
        # this check; the later upload then replaces the earlier object.
        with self._errors('HEAD', bucket, key):
            try:
                self.client.head_object(Bucket=bucket, Key=key)
            except boto_exc.ClientError as exc:
                # 403: no s3:ListBucket, S3 cannot say; let the PUT decide.
                if _status(exc) not in (403, 404):
                    raise
            else:
                raise exceptions.Duplicate(
                    'image %s already exists in store %r (%s)'
                    % (image_id, self.name, self._where(bucket, key)))
        if size and size < self.large_object_size:
            self._put_known(bucket, key, reader)
        else:
            self._put_multipart(bucket, key, reader)
        LOG.debug('store %s: added %s (%d bytes)', self.name,
                  self._where(bucket, key), reader.size)
        return self._url_for(image_id)

    def _ensure_bucket(self):
        """Make sure the bucket exists (checked once per store), creating it
        when ``s3_store_create_bucket_on_put`` says so."""
        if self._bucket_ready:
            return
        bucket = self.bucket
        with self._errors('HEAD bucket', bucket):
            try:
                self.client.head_bucket(Bucket=bucket)
            except boto_exc.ClientError as exc:
                status = _status(exc)
                if status == 404:
                    if not self.create_bucket_on_put:
                        raise exceptions.BackendError(
                            's3 store %r: bucket %r does not exist at %s; '
                            'create it or set s3_store_create_bucket_on_put '
                            '= true' % (self.name, bucket, self.endpoint_url),
                            code='NoSuchBucket') from None
                    self._create_bucket()
                elif status != 403:      # 403: object-only rights; go on
                    raise
        self._bucket_ready = True

    def _create_bucket(self):
        kwargs = {'Bucket': self.bucket}
        if self.region != DEFAULT_REGION:
            kwargs['CreateBucketConfiguration'] = {
                'LocationConstraint': self.region}
        try:
            self.client.create_bucket(**kwargs)
        except boto_exc.ClientError as exc:
            if _code(exc) != 'BucketAlreadyOwnedByYou':
                raise
        LOG.info('store %s: created bucket %s', self.name,
                 self._where(self.bucket))

    def _put_known(self, bucket, key, reader):
        """Single PUT of a known-size image, sent once fully read (so a
        size mismatch or an input error never reaches S3)."""
        body = bytearray(reader.expected_size)
        view = memoryview(body)
        pos = 0
        for block in reader:
            view[pos:pos + len(block)] = block
            pos += len(block)
        view.release()
        self._put_object(bucket, key, body)

    def _put_object(self, bucket, key, body):
        """PUT *body*; if the outcome is uncertain (connection lost,
        interrupted), remove whatever may have been written."""
        refused = False
        try:
            with self._errors('PUT', bucket, key):
                try:
                    self.client.put_object(Bucket=bucket, Key=key, Body=body)
                except boto_exc.ClientError:
                    refused = True      # the service answered: nothing written
                    raise
        except BaseException:
            if not refused:
                self._delete_quietly(bucket, key)
            raise

    def _delete_quietly(self, bucket, key):
        """Best-effort removal of an object whose upload did not finish."""
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            LOG.warning('store %s: could not remove partial object %s: %s',
                        self.name, self._where(bucket, key),
                        driver.SECRET_FILTER.scrub(str(exc)))

    def _parts(self, reader):
        """Yield the parts of a multipart upload, one bytes object each."""
        if reader.expected_size:
            # Known size: the reader yields one part per block (see
            # write_block_size).
            yield from reader
            return
        blocks = iter(reader)
        number = 0
        while True:
            number += 1
            want = blocks_in_part(number, self.chunk_size)
            if want == 1:
                part = next(blocks, None)
            else:
                pieces = []
                for block in blocks:
                    pieces.append(block)
                    if len(pieces) == want:
                        break
                part = b''.join(pieces) if pieces else None
                pieces = None
            if part is None:
                return
            yield part
            part = None

    def _put_multipart(self, bucket, key, reader):
        parts = self._parts(reader)
        try:
            head = []
            for part in parts:
                head.append(part)
                part = None
                if len(head) == 2:
                    break
            if len(head) < 2 and not reader.expected_size:
                # Unknown size that fits in one part: a plain PUT will do.
                self._put_object(bucket, key, head.pop() if head else b'')
                return
            self._multipart(bucket, key, _drain(head, parts))
        finally:
            parts.close()

    def _multipart(self, bucket, key, parts):
        checksum = (self.client.meta.config.request_checksum_calculation
                    == 'when_supported')
        extra = {'ChecksumAlgorithm': 'CRC32'} if checksum else {}
        with self._errors('create multipart upload of', bucket, key):
            upload_id = self.client.create_multipart_upload(
                Bucket=bucket, Key=key, **extra)['UploadId']
        LOG.debug('store %s: multipart upload %s of %s started', self.name,
                  upload_id, self._where(bucket, key))
        try:
            done = self._upload_parts(bucket, key, upload_id, extra, parts)
            with self._errors('complete multipart upload of', bucket, key):
                self.client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id,
                    MultipartUpload={'Parts': done})
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise

    def _upload_parts(self, bucket, key, upload_id, extra, parts):
        """Send *parts* with back-pressure; return the completed part list.

        A semaphore admits a part only when fewer than ``thread_pools`` are
        in flight, so with the one being read at most ``thread_pools + 1``
        parts are in memory.  The first failed part stops the upload.
        """
        slots = threading.BoundedSemaphore(self.thread_pools)
        failed = []
        futures = []

        def send(number, body):
            with self._errors('upload part %d of' % number, bucket, key):
                resp = self.client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id,
                    PartNumber=number, Body=body, **extra)
            etag = resp.get('ETag')
            if not etag:
                raise exceptions.BackendError(
                    's3 store %r: part %d of %s returned no ETag'
                    % (self.name, number, self._where(bucket, key)))
            done = {'PartNumber': number, 'ETag': etag}
            if extra and resp.get('ChecksumCRC32'):
                done['ChecksumCRC32'] = resp['ChecksumCRC32']
            return done

        def finished(future):
            slots.release()
            if not future.cancelled() and future.exception() is not None:
                failed.append(future.exception())

        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.thread_pools,
            thread_name_prefix='store-kit-s3-%s' % self.name)
        try:
            number = 0
            for body in parts:
                number += 1
                if number > MAX_PARTS:
                    raise exceptions.BackendError(
                        's3 store %r: image %s needs more than %d parts'
                        % (self.name, key, MAX_PARTS), code='EntityTooLarge')
                slots.acquire()
                if failed:
                    break
                future = pool.submit(send, number, body)
                body = None
                future.add_done_callback(finished)
                futures.append(future)
            concurrent.futures.wait(futures)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failed:
            raise failed[0]
        return [f.result() for f in futures]

    def _abort(self, bucket, key, upload_id):
        try:
            self.client.abort_multipart_upload(Bucket=bucket, Key=key,
                                               UploadId=upload_id)
        except Exception as exc:
            if isinstance(exc, boto_exc.ClientError) and _code(exc) == (
                    'NoSuchUpload'):
                # Completed after all (answer lost): remove the object.
                self._delete_quietly(bucket, key)
                return
            LOG.warning('store %s: could not abort multipart upload %s of '
                        '%s: %s', self.name, upload_id,
                        self._where(bucket, key), driver.SECRET_FILTER.scrub(str(exc)))
        else:
            LOG.debug('store %s: aborted multipart upload %s of %s',
                      self.name, upload_id, self._where(bucket, key))

    # -- read / delete ---------------------------------------------------------

    def _get(self, loc, offset, length):
        bucket, key = loc.bucket, loc.key
        kwargs = {'Bucket': bucket, 'Key': key}
        if offset or length is not None:
            if length == 0:
                total = self._get_size(loc)
                driver.range_size(total, offset, 0)       # offset check
                return driver.ChunkIterator(_empty()), 0
            kwargs['Range'] = driver.range_header(offset, length)
        with self._errors('GET', bucket, key):
            try:
                resp = self.client.get_object(**kwargs)
            except boto_exc.ClientError as exc:
                if _code(exc) != 'InvalidRange':
                    raise
                total = self._get_size(loc)
                driver.range_size(total, offset, length)  # raises if past end
                return driver.ChunkIterator(_empty()), 0
        body = resp['Body']
        length_sent = resp.get('ContentLength')
        if 'Range' in kwargs and not resp.get('ContentRange'):
            # The service ignored the Range header: cut the range ourselves.
            skip = offset
            size = driver.range_size(length_sent, offset, length)
        else:
            skip, size = 0, length_sent
        return driver.ChunkIterator(
            self._stream(body, skip, size, bucket, key), body.close), size

    def _stream(self, body, skip, size, bucket, key):
        def read(n):
            try:
                return body.read(n)
            except boto_exc.IncompleteReadError:
                return b''              # short: read_exactly says so
        try:
            with self._errors('GET', bucket, key):
                yield from driver.read_exactly(
                    read, size, READ_CHUNK_SIZE,
                    's3 object %s' % self._where(bucket, key), skip)
        finally:
            body.close()

    def _get_size(self, loc):
        with self._errors('HEAD', loc.bucket, loc.key):
            resp = self.client.head_object(Bucket=loc.bucket, Key=loc.key)
        return int(resp['ContentLength'])

    def _delete(self, loc):
        self._get_size(loc)                          # NotFound if missing
        with self._errors('DELETE', loc.bucket, loc.key):
            self.client.delete_object(Bucket=loc.bucket, Key=loc.key)
        LOG.debug('store %s: deleted %s', self.name,
                  self._where(loc.bucket, loc.key))

    # -- inventory (the consistency checker) --------------------------------

    sizes_from_listing = True

    def inventory(self):
        """Every object of the bucket, then every unfinished multipart upload:
        one paginated listing each, no request per object."""
        bucket = self.bucket
        with self._errors('list objects of', bucket):
            pages = self.client.get_paginator('list_objects_v2').paginate(Bucket=bucket)
            for page in pages:
                for obj in page.get('Contents', ()):
                    yield driver.InventoryItem('object', self._url_for(obj['Key']),
                                               int(obj['Size']), _timestamp(obj['LastModified']),
                                               obj['Key'])
        yield from self.unfinished()

    def unfinished(self, key=None):
        """Unfinished multipart uploads (of *key* only, when given)."""
        bucket = self.bucket
        kwargs = {} if key is None else {'Prefix': key}
        with self._errors('list multipart uploads of', bucket):
            pages = self.client.get_paginator('list_multipart_uploads').paginate(
                Bucket=bucket, **kwargs)
            for page in pages:
                for up in page.get('Uploads', ()):
                    if key is None or up['Key'] == key:
                        yield driver.InventoryItem(
                            'multipart', self._url_for(up['Key']), None,
                            _timestamp(up['Initiated']), (up['Key'], up['UploadId']))

    def find_objects(self, image_id):
        with self._errors('HEAD', self.bucket, image_id):
            try:
                resp = self.client.head_object(Bucket=self.bucket, Key=image_id)
            except boto_exc.ClientError as exc:
                if _status(exc) == 404:
                    return []
                raise
        return [driver.InventoryItem('object', self._url_for(image_id),
                                     int(resp['ContentLength']),
                                     _timestamp(resp['LastModified']), image_id)]

    def remove_leftover(self, item):
        """Delete the listed object, or abort the listed multipart upload."""
        if item.kind == 'multipart':
            key, upload_id = item.ref
            with self._errors('abort multipart upload of', self.bucket, key):
                try:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                       UploadId=upload_id)
                except boto_exc.ClientError as exc:
                    if _code(exc) != 'NoSuchUpload':
                        raise
            return
        with self._errors('DELETE', self.bucket, item.ref):
            self.client.delete_object(Bucket=self.bucket, Key=item.ref)

    # -- health ----------------------------------------------------------------

    def check_reachable(self):
        """HEAD the bucket with short timeouts and no retries."""
        try:
            self._probe().head_bucket(Bucket=self.bucket)
        except boto_exc.ClientError as exc:
            status = _status(exc)
            if status == 404:
                if self.create_bucket_on_put:
                    return True, ''
                return False, ('bucket %r does not exist at %s'
                               % (self.bucket, self.endpoint_url))
            if status == 403:
                return False, ('access to bucket %r at %s denied'
                               % (self.bucket, self.endpoint_url))
            return False, ('bucket %r at %s: %s (HTTP %s)'
                           % (self.bucket, self.endpoint_url,
                              _code(exc) or 'error', status))
        except Exception as exc:
            return False, ('cannot reach %s: %s'
                           % (self.endpoint_url, driver.SECRET_FILTER.scrub(str(exc))))
        return True, ''


def _status(exc):
    return exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode')


def _code(exc):
    return str(exc.response.get('Error', {}).get('Code') or '')


def _timestamp(when):
    """A datetime from botocore (UTC when naive) as a POSIX timestamp."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def _empty():
    yield from ()


def _drain(head, rest):
    """Yield the parts in list *head* (emptying it), then those of *rest*;
    no reference to a part is kept once it has been handed on."""
    while head:
        yield head.pop(0)
    yield from rest
