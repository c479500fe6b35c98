"""image_set_property_atomic, image_delete_property_atomic, image_update's
atomic_props and image_property_delete's returned row."""

import threading

import pytest
import sqlalchemy as sa

from store_kit import exceptions
from store_kit.context import RequestContext
from store_kit.catalog import models
from tests.catalog.concurrency import N, in_threads
from tests.catalog.helpers import count_rows


@pytest.fixture
def image(db, p1):
    return db.image_create(p1, {'name': 'i', 'properties': {'speed': '88mph'}})


def props(db, ctx, image_id):
    return db.image_get(ctx, image_id)['properties']


def soft_delete_property(db, image_id, name):
    """Leave a soft-deleted row, as image_destroy or a glance import does."""
    t = models.properties
    with db.engine.begin() as conn:
        conn.execute(t.update().where(t.c.image_id == image_id, t.c.name == name)
                     .values(deleted=True, deleted_at=t.c.updated_at))


def test_set_creates_only_if_absent(db, p1, image):
    db.image_set_property_atomic(p1, image['id'], 'lock', 'me')
    assert props(db, p1, image['id']) == {'speed': '88mph', 'lock': 'me'}
    for value in ('me', 'you'):
        with pytest.raises(exceptions.Duplicate, match='lock'):
            db.image_set_property_atomic(p1, image['id'], 'lock', value)
    assert props(db, p1, image['id'])['lock'] == 'me'


def test_set_revives_a_soft_deleted_property_of_this_image_only(db, p1, image):
    other = db.image_create(p1, {'name': 'o', 'properties': {'speed': 'slow'}})
    soft_delete_property(db, image['id'], 'speed')
    soft_delete_property(db, other['id'], 'speed')
    db.image_set_property_atomic(p1, image['id'], 'speed', '89mph')
    assert props(db, p1, image['id']) == {'speed': '89mph'}
    assert props(db, p1, other['id']) == {}
    assert count_rows(db, 'properties', image_id=image['id']) == 1


def test_delete_only_with_the_current_value(db, p1, image):
    with pytest.raises(exceptions.NotFound, match="'88kph'"):
        db.image_delete_property_atomic(p1, image['id'], 'speed', '88kph')
    db.image_delete_property_atomic(p1, image['id'], 'speed', '88mph')
    assert props(db, p1, image['id']) == {}
    with pytest.raises(exceptions.NotFound, match='speed'):
        db.image_delete_property_atomic(p1, image['id'], 'speed', '88mph')
    db.image_update(p1, image['id'], {'properties': {'speed': '89mph'}})
    with pytest.raises(exceptions.NotFound):
        db.image_delete_property_atomic(p1, image['id'], 'speed', '88mph')
    db.image_delete_property_atomic(p1, image['id'], 'speed', '89mph')


def test_rights_as_every_property_write(db, p1, p2, admin, image):
    for call in (lambda ctx: db.image_set_property_atomic(ctx, image['id'], 'k', 'v'),
                 lambda ctx: db.image_delete_property_atomic(ctx, image['id'], 'speed',
                                                             '88mph')):
        with pytest.raises(exceptions.ImageNotFound):
            call(p2)                                  # cannot see a shared image
        db.image_update(p1, image['id'], {'visibility': 'public'})
        with pytest.raises(exceptions.Forbidden):
            call(p2)                                  # sees it, may not change it
        db.image_update(p1, image['id'], {'visibility': 'shared'})
        call(admin)
    with pytest.raises(exceptions.ImageNotFound):
        db.image_set_property_atomic(p1, 'nope', 'k', 'v')
    with pytest.raises(exceptions.Invalid, match='property name'):
        db.image_set_property_atomic(p1, image['id'], '', 'v')


def test_update_leaves_atomic_props_alone(db, p1, image):
    db.image_set_property_atomic(p1, image['id'], 'test1', 'foo')
    db.image_set_property_atomic(p1, image['id'], 'test2', 'bar')
    got = db.image_update(p1, image['id'],
                          {'properties': {'test1': 'baz', 'test3': 'bat', 'test4': 'yep'}},
                          purge_props=True, atomic_props=['test1', 'test2', 'test3'])
    assert got['properties'] == {'test1': 'foo', 'test2': 'bar', 'test4': 'yep'}
    with pytest.raises(exceptions.Invalid, match='atomic_props'):
        db.image_update(p1, image['id'], {}, atomic_props='test1')


def test_racing_sets_exactly_one_wins(db, p1, image):
    outcomes = in_threads([lambda i=i: db.image_set_property_atomic(
        p1, image['id'], 'os_glance_import_task', 'task-%d' % i) for i in range(N)])
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ['Duplicate'] * (N - 1) + ['ok'], outcomes
    winner = [i for i, (kind, _) in enumerate(outcomes) if kind == 'ok'][0]
    assert props(db, p1, image['id'])['os_glance_import_task'] == 'task-%d' % winner


def test_racing_revivals_exactly_one_wins(db, p1, image):
    soft_delete_property(db, image['id'], 'speed')
    outcomes = in_threads([lambda i=i: db.image_set_property_atomic(
        p1, image['id'], 'speed', str(i)) for i in range(N)])
    assert sorted(kind for kind, _ in outcomes) == ['Duplicate'] * (N - 1) + ['ok'], outcomes
    assert count_rows(db, 'properties', image_id=image['id'], deleted=False) == 1


def test_racing_deletes_exactly_one_wins(db, p1, image):
    outcomes = in_threads([lambda: db.image_delete_property_atomic(
        p1, image['id'], 'speed', '88mph')] * N)
    assert sorted(kind for kind, _ in outcomes) == ['NotFound'] * (N - 1) + ['ok'], outcomes
    assert props(db, p1, image['id']) == {}


def test_lock_cycle_under_contention(db, p1, image):
    """Take, release, take again, from many threads: never two holders."""
    holders, most = [], []
    guard = threading.Lock()

    def cycle(i):
        won = 0
        for _ in range(5):
            try:
                db.image_set_property_atomic(p1, image['id'], 'lock', 'w%d' % i)
            except exceptions.Duplicate:
                continue
            with guard:
                holders.append(i)
                most.append(len(holders))
            won += 1
            with guard:
                holders.remove(i)
            db.image_delete_property_atomic(p1, image['id'], 'lock', 'w%d' % i)
        return won
    outcomes = in_threads([lambda i=i: cycle(i) for i in range(N)])
    assert all(kind == 'ok' for kind, _ in outcomes), outcomes
    assert sum(won for _, won in outcomes) >= 1 and max(most) == 1
    assert 'lock' not in props(db, p1, image['id'])


def test_property_delete_returns_the_deleted_row(db, p1, image):
    prop = db.image_property_create(p1, {'image_id': image['id'], 'name': 'ping',
                                         'value': 'pong'})
    gone = db.image_property_delete(p1, prop['name'], image['id'])
    assert gone['deleted'] is True and gone['deleted_at'] is not None
    assert (gone['image_id'], gone['name'], gone['value']) == (image['id'], 'ping', 'pong')
    assert isinstance(gone['id'], int) and gone['created_at'] <= gone['deleted_at']
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(models.properties).where(
            models.properties.c.name == 'ping')).scalar() == 0
    with pytest.raises(exceptions.NotFound, match='ping'):
        db.image_property_delete(p1, 'ping', image['id'])


@pytest.mark.parametrize('project', ['P1', 'p1 ', 'p\u0131'])
def test_a_project_named_like_the_owner_is_another_project(db, p1, image, project):
    """Case, a trailing space or a dotless i: not the owner, on every engine."""
    other = RequestContext(project_id=project)
    db.image_set_property_atomic(p1, image['id'], 'lock', 'mine')
    with pytest.raises(exceptions.ImageNotFound):
        db.image_set_property_atomic(other, image['id'], 'k', 'v')
    with pytest.raises(exceptions.ImageNotFound):
        db.image_delete_property_atomic(other, image['id'], 'lock', 'mine')
    assert db.image_get(p1, image['id'])['properties'].get('lock') == 'mine'
