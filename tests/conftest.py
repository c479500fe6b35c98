import os

import pytest


def require_servers():
    """True when tests needing a real server must fail rather than skip."""
    return os.environ.get('STORE_KIT_REQUIRE_SERVERS') == '1'


def skip_or_fail(reason):
    if require_servers():
        pytest.fail('%s (STORE_KIT_REQUIRE_SERVERS=1)' % reason)
    pytest.skip(reason)
