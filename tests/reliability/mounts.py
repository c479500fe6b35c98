"""Real filesystem faults for tests (we run as root): a tiny tmpfs that fills
up, a read-only bind mount."""

import contextlib
import os
import subprocess

import pytest


def _mount(*args):
    proc = subprocess.run(['mount'] + list(args), capture_output=True, text=True)
    if proc.returncode:
        pytest.skip('cannot mount here (%s): %s' % (' '.join(args), proc.stderr.strip()))


@contextlib.contextmanager
def tmpfs(path, size='1m'):
    """A fresh tmpfs of *size* mounted at *path* (created)."""
    os.makedirs(path, exist_ok=True)
    _mount('-t', 'tmpfs', '-o', 'size=%s' % size, 'tmpfs', str(path))
    try:
        yield path
    finally:
        subprocess.run(['umount', '-l', str(path)], check=True)


@contextlib.contextmanager
def read_only(path):
    """*path* (an existing directory) read-only for as long as the block runs."""
    _mount('--bind', str(path), str(path))
    try:
        _mount('-o', 'remount,bind,ro', str(path))
        yield path
    finally:
        subprocess.run(['umount', '-l', str(path)], check=True)
