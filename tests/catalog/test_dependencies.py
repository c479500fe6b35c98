"""Hard dependencies: direct edges, recursive queries, cycles, races."""

import datetime
import uuid

import pytest

from store_kit import exceptions
from store_kit.catalog import models
from tests.catalog import concurrency


@pytest.fixture
def mk(db, p1):
    def make(name, ctx=p1, **values):
        values.setdefault('visibility', 'private')
        return db.image_create(ctx, dict(name=name, **values))['id']
    return make


def test_transitive_queries(db, p1, mk):
    a, b, c, d = mk('a'), mk('b'), mk('c'), mk('d')
    db.set_hard_dependencies(p1, a, [b, c])
    db.set_hard_dependencies(p1, b, [d])
    db.set_hard_dependencies(p1, c, [d])
    db.set_hard_dependencies(p1, a, [b])                # idempotent
    assert db.get_hard_dependencies(p1, a) == sorted([b, c, d])
    assert db.get_hard_dependencies(p1, d) == []
    assert db.get_hard_dependencies_children(p1, d) == sorted([a, b, c])
    assert db.get_hard_dependencies_children(p1, b) == [a]


def test_deleting_one_edge_of_a_diamond_keeps_the_other_path(db, p1, mk):
    a, b, c, d = mk('a'), mk('b'), mk('c'), mk('d')
    db.set_hard_dependencies(p1, a, [b, c])
    db.set_hard_dependencies(p1, b, [d])
    db.set_hard_dependencies(p1, c, [d])
    db.delete_hard_dependencies(p1, b, d)
    assert db.get_hard_dependencies(p1, a) == sorted([b, c, d])
    with pytest.raises(exceptions.DependencyCycle, match=d):
        db.set_hard_dependencies(p1, d, [a])             # a -> c -> d still exists
    with pytest.raises(exceptions.NotFound, match='does not depend'):
        db.delete_hard_dependencies(p1, b, d)


def test_cycles_are_refused(db, p1, mk):
    a, b, c = mk('a'), mk('b'), mk('c')
    with pytest.raises(exceptions.DependencyCycle, match='itself'):
        db.set_hard_dependencies(p1, a, [a])
    db.set_hard_dependencies(p1, a, [b])
    db.set_hard_dependencies(p1, b, [c])
    with pytest.raises(exceptions.DependencyCycle, match=c):
        db.set_hard_dependencies(p1, c, [a])
    with pytest.raises(exceptions.DependencyCycle):
        db.set_hard_dependencies(p1, c, [b])
    assert db.get_hard_dependencies(p1, c) == []


def test_refused_targets(db, p1, p2, mk):
    mine = mk('mine')
    hidden = mk('hidden', ctx=p2)
    theirs_shared = mk('shared', ctx=p2, visibility='shared')
    db.image_member_create(p2, {'image_id': theirs_shared, 'member': 'p1'})
    theirs_public = mk('public', ctx=p2, visibility='public')
    with pytest.raises(exceptions.ImageNotFound, match=hidden):
        db.set_hard_dependencies(p1, mine, [hidden])
    with pytest.raises(exceptions.Forbidden, match=theirs_shared):
        db.set_hard_dependencies(p1, mine, [theirs_shared])
    db.set_hard_dependencies(p1, mine, [theirs_public])
    with pytest.raises(exceptions.ImageNotFound, match=mine):
        db.set_hard_dependencies(p2, mine, [theirs_public])   # p2 cannot see mine
    assert db.get_hard_dependencies(p1, mine) == [theirs_public]


def test_refused_set_changes_nothing(db, p1, mk):
    a, b, c = mk('a'), mk('b'), mk('c')
    db.set_hard_dependencies(p1, b, [a])
    with pytest.raises(exceptions.DependencyCycle):
        db.set_hard_dependencies(p1, a, [c, b])
    assert db.get_hard_dependencies(p1, a) == []


def test_destroy_is_refused_while_something_depends(db, p1, mk):
    a, b = mk('a'), mk('b')
    db.set_hard_dependencies(p1, a, [b])
    with pytest.raises(exceptions.ImageInUse, match=a):
        db.image_destroy(p1, b)
    db.image_destroy(p1, a)                      # removes a's own edges
    assert db.get_hard_dependencies_children(p1, b) == []
    db.image_destroy(p1, b)


def test_long_chain(db, p1, mk):
    chain = [mk('n%d' % i) for i in range(60)]
    for src, dst in zip(chain, chain[1:]):
        db.set_hard_dependencies(p1, src, [dst])
    assert db.get_hard_dependencies_children(p1, chain[-1]) == sorted(chain[:-1])
    assert db.get_hard_dependencies(p1, chain[0]) == sorted(chain[1:])
    with pytest.raises(exceptions.DependencyCycle):
        db.set_hard_dependencies(p1, chain[-1], [chain[0]])


def test_racing_edges_never_close_a_cycle(db, p1, mk):
    for _ in range(5):
        a, b, c = mk('a'), mk('b'), mk('c')
        db.set_hard_dependencies(p1, b, [c])
        outcomes = concurrency.in_threads([
            lambda: db.set_hard_dependencies(p1, a, [b]),     # a -> b -> c
            lambda: db.set_hard_dependencies(p1, c, [a]),     # c -> a
        ])
        kinds = sorted(kind for kind, _ in outcomes)
        assert kinds == ['DependencyCycle', 'ok'], outcomes
        assert not (set(db.get_hard_dependencies(p1, a)) & {a})


def test_racing_destroy_and_dependency(db, p1, mk):
    for _ in range(5):
        target, source = mk('target'), mk('source')
        outcomes = concurrency.in_threads([
            lambda: db.image_destroy(p1, target),
            lambda: db.set_hard_dependencies(p1, source, [target]),
        ])
        kinds = [kind for kind, _ in outcomes]
        assert kinds in (['ok', 'ImageNotFound'], ['ImageInUse', 'ok']), outcomes
        deps = db.get_hard_dependencies(p1, source)
        assert deps == ([] if kinds[0] == 'ok' else [target])


def test_chain_deeper_than_engine_recursion_defaults(db, p1):
    """MariaDB stops recursion at 1000 levels by default; the catalog must not."""
    depth = 1500
    now = datetime.datetime(2024, 1, 1)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(depth)]
    with db.engine.begin() as conn:
        conn.execute(models.images.insert(), [{
            'id': i, 'status': 'active', 'visibility': 'private', 'owner': 'p1',
            'min_disk': 0, 'min_ram': 0, 'protected': False, 'os_hidden': False,
            'created_at': now, 'updated_at': now, 'deleted': False} for i in ids])
        conn.execute(models.dependencies.insert(), [
            {'source_id': a, 'target_id': b, 'created_at': now} for a, b in zip(ids, ids[1:])])
    assert len(db.get_hard_dependencies_children(p1, ids[-1])) == depth - 1
    assert len(db.get_hard_dependencies(p1, ids[0])) == depth - 1
    with pytest.raises(exceptions.DependencyCycle):
        db.set_hard_dependencies(p1, ids[-1], [ids[0]])


def test_self_dependency_by_another_spelling_is_not_an_edge(db, p1, mk):
    """On a case-insensitive collation a.upper() found a and stored a -> a:
    a could then never be destroyed."""
    a = mk('a')
    for alias in (a.upper(), a + ' '):
        with pytest.raises((exceptions.ImageNotFound, exceptions.DependencyCycle)):
            db.set_hard_dependencies(p1, a, [alias])
    assert db.get_hard_dependencies(p1, a) == []
    assert db.image_destroy(p1, a)['deleted']
