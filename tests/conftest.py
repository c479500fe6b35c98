"""Fixtures shared by every test directory: who is asking."""

import pytest

from store_kit.context import RequestContext


@pytest.fixture
def admin():
    return RequestContext(project_id='admin', is_admin=True)


@pytest.fixture
def p1():
    return RequestContext(project_id='p1')


@pytest.fixture
def p2():
    return RequestContext(project_id='p2')


@pytest.fixture
def p3():
    return RequestContext(project_id='p3')
