"""The shared hashing, counting and size-checking reader."""

import hashlib
import io
import os
import threading

import pytest

from store_kit import driver
from store_kit import exceptions

DATA = os.urandom(3 * 1024 * 1024 + 123)


def consume(reader):
    return b''.join(reader)


@pytest.mark.parametrize('source', [
    lambda: io.BytesIO(DATA),
    lambda: iter([DATA[i:i + 7777] for i in range(0, len(DATA), 7777)]),
    lambda: [DATA],
])
@pytest.mark.parametrize('algo', ['sha512', 'sha256', 'sha3_256'])
def test_hashes_and_size(source, algo):
    reader = driver.HashingReader(source(), len(DATA), algo, block_size=65536)
    blocks = list(reader)
    assert all(len(b) == 65536 for b in blocks[:-1])
    assert b''.join(blocks) == DATA
    assert reader.size == len(DATA)
    assert reader.checksum == hashlib.md5(DATA).hexdigest()
    assert reader.multihash == hashlib.new(algo, DATA).hexdigest()


class Trickle(io.RawIOBase):
    """A file object that returns at most 1000 bytes per read."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def readable(self):
        return True

    def read(self, n=-1):
        return self._buf.read(min(n, 1000) if n >= 0 else 1000)


def test_short_reads_are_refilled_to_whole_blocks():
    reader = driver.HashingReader(Trickle(DATA[:10000]), 0, block_size=4096)
    assert [len(b) for b in reader] == [4096, 4096, 1808]


def test_unknown_size_counts():
    reader = driver.HashingReader(io.BytesIO(DATA), 0)
    assert consume(reader) == DATA and reader.size == len(DATA)


def test_long_input_fails_before_the_excess_is_yielded():
    reader = driver.HashingReader(io.BytesIO(DATA), 1000, block_size=512)
    got = []
    with pytest.raises(exceptions.SizeMismatch) as err:
        for block in reader:
            got.append(block)
    assert sum(map(len, got)) <= 1000
    assert '1000' in str(err.value)
    assert reader.checksum is None


def test_short_input_fails_at_the_end():
    reader = driver.HashingReader(io.BytesIO(DATA[:10]), 11)
    with pytest.raises(exceptions.SizeMismatch) as err:
        consume(reader)
    assert err.value.expected == 11 and err.value.actual == 10


def test_input_raising_propagates_and_stops_hash_threads():
    def source():
        yield b'x' * 100
        raise IOError('client went away')
    before = threading.active_count()
    reader = driver.HashingReader(source(), 0)
    with pytest.raises(IOError):
        consume(reader)
    assert threading.active_count() == before


def test_abandoned_iteration_can_be_closed():
    before = threading.active_count()
    reader = driver.HashingReader(io.BytesIO(DATA), 0, block_size=1024)
    it = iter(reader)
    next(it)
    it.close()
    reader.close()
    assert threading.active_count() == before


@pytest.mark.parametrize('bad', ['nope', 'shake_128'])
def test_bad_algorithm(bad):
    with pytest.raises(exceptions.Invalid) as err:
        driver.HashingReader(io.BytesIO(b''), 0, bad)
    assert bad in str(err.value)


def test_non_bytes_chunks_rejected():
    with pytest.raises(exceptions.Invalid):
        consume(driver.HashingReader(['text'], 0))


def test_negative_size_rejected():
    with pytest.raises(exceptions.Invalid):
        driver.HashingReader(io.BytesIO(b''), -1)


def test_chunk_iterator_close_on_plain_iterator():
    closed = []
    it = driver.ChunkIterator(iter([b'a']), lambda: closed.append(1))
    it.close()
    it.close()
    assert closed == [1]


@pytest.mark.parametrize('data', [None, 5, 'text', object()])
def test_data_that_is_no_source_of_bytes_is_invalid_at_once(data):
    with pytest.raises(exceptions.Invalid) as err:
        driver.HashingReader(data)
    assert type(data).__name__ in str(err.value)


@pytest.mark.parametrize('data', [lambda: io.StringIO('text'),
                                  lambda: iter(['text'])])
def test_text_chunks_are_invalid(data):
    with pytest.raises(exceptions.Invalid) as err:
        consume(driver.HashingReader(data()))
    assert 'str' in str(err.value)


def test_memoryview_reads_are_accepted():
    class Views:
        def __init__(self):
            self.src = io.BytesIO(DATA)

        def read(self, n):
            return memoryview(self.src.read(min(n, 1000)))
    assert consume(driver.HashingReader(Views(), block_size=4096)) == DATA
