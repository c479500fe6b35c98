"""Locations: status transitions, storage usage, scrubber queue, backfill."""

import datetime

import pytest

from store_kit import exceptions
from store_kit.catalog.models import locations
from tests.catalog import concurrency, workers
from tests.catalog.helpers import count_rows


def make(db, ctx, urls=('file:///1',), **values):
    values.setdefault('size', 100)
    return db.image_create(ctx, dict(locations=[{'url': u} for u in urls], **values))


def statuses(db, image_id):
    with db.engine.connect() as conn:
        return [r.status for r in conn.execute(
            locations.select().where(locations.c.image_id == image_id)
            .order_by(locations.c.id))]


def test_add_update_and_only_active_are_returned(db, p1):
    image = make(db, p1)
    loc = db.image_location_add(p1, image['id'], {'url': 'file:///2', 'metadata': {'a': 1}})
    assert loc['status'] == 'active' and loc['metadata'] == {'a': 1}
    db.image_location_update(p1, image['id'], {'id': loc['id'], 'metadata': {'b': 2}})
    assert db.image_get(p1, image['id'])['locations'][1]['metadata'] == {'b': 2}
    db.image_location_delete(p1, image['id'], loc['id'], 'pending_delete')
    assert [x['url'] for x in db.image_get(p1, image['id'])['locations']] == ['file:///1']
    assert statuses(db, image['id']) == ['active', 'pending_delete']


@pytest.mark.parametrize('path, final', [
    (['pending_delete', 'active'], 'active'),
    (['pending_delete', 'deleted'], 'deleted'),
    (['deleted'], 'deleted'),
])
def test_allowed_transitions(db, p1, path, final):
    image = make(db, p1)
    loc_id = image['locations'][0]['id']
    for status in path:
        db.image_location_update(p1, image['id'], {'id': loc_id, 'status': status})
    assert statuses(db, image['id']) == [final]


@pytest.mark.parametrize('path', [['deleted', 'active'], ['deleted', 'pending_delete'],
                                  ['bogus']])
def test_refused_transitions_name_the_location(db, p1, path):
    image = make(db, p1)
    loc_id = image['locations'][0]['id']
    with pytest.raises(exceptions.Invalid, match=path[-1]):
        for status in path:
            db.image_location_update(p1, image['id'], {'id': loc_id, 'status': status})


def test_delete_status_must_be_a_delete(db, p1):
    image = make(db, p1)
    with pytest.raises(exceptions.Invalid, match='active'):
        db.image_location_delete(p1, image['id'], image['locations'][0]['id'], 'active')
    with pytest.raises(exceptions.LocationNotFound, match='999999'):
        db.image_location_delete(p1, image['id'], 999999, 'deleted')


def test_delete_time_is_recorded(db, p1):
    image = make(db, p1)
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, 678901)
    db.image_location_delete(p1, image['id'], image['locations'][0]['id'], 'pending_delete',
                             delete_time=when)
    with db.engine.connect() as conn:
        assert conn.execute(locations.select()).one().delete_time == when


def test_others_cannot_touch_locations(db, p1, p2):
    image = make(db, p1, visibility='public')
    with pytest.raises(exceptions.Forbidden):
        db.image_location_add(p2, image['id'], {'url': 'file:///x'})
    with pytest.raises(exceptions.Forbidden):
        db.image_location_delete(p2, image['id'], image['locations'][0]['id'], 'deleted')


def test_storage_usage_counts_active_and_pending(db, p1, p2, admin):
    a = make(db, p1, urls=('file:///a1', 'file:///a2'), size=100)
    b = make(db, p1, urls=('file:///b1',), size=10)
    make(db, p2, urls=('file:///c',), size=1000)
    assert db.user_get_storage_usage(p1, 'p1') == 210
    db.image_location_delete(p1, a['id'], a['locations'][0]['id'], 'pending_delete')
    assert db.user_get_storage_usage(p1, 'p1') == 210
    db.image_location_delete(p1, a['id'], a['locations'][1]['id'], 'deleted')
    assert db.user_get_storage_usage(p1, 'p1') == 110
    assert db.user_get_storage_usage(admin, 'p1', image_id=b['id']) == 100
    with pytest.raises(exceptions.Forbidden, match='p1'):
        db.user_get_storage_usage(p2, 'p1')


# -- scrubber queue ------------------------------------------------------------

def test_claim_complete_marks_image_deleted_at_last_location(db, p1):
    image = make(db, p1, urls=('file:///1', 'file:///2'))
    db.image_destroy(p1, image['id'], delayed=True)
    claimed = db.claim_pending_deletes('w1', limit=10)
    assert sorted(c['url'] for c in claimed) == ['file:///1', 'file:///2']
    assert {c['image_id'] for c in claimed} == {image['id']}
    assert db.claim_pending_deletes('w2', limit=10) == []        # leased
    assert not db.complete_pending_delete(claimed[0]['id'], 'w2')  # not the owner
    assert db.complete_pending_delete(claimed[0]['id'], 'w1')
    assert db.image_get(p1, image['id'], force_show_deleted=True)['status'] == 'pending_delete'
    assert db.complete_pending_delete(claimed[1]['id'], 'w1')
    assert db.image_get(p1, image['id'], force_show_deleted=True)['status'] == 'deleted'
    assert not db.complete_pending_delete(claimed[1]['id'], 'w1')  # already done


def test_pending_delete_of_a_live_image_is_scrubbed(db, p1):
    image = make(db, p1, urls=('file:///1', 'file:///2'), status='active')
    db.image_location_delete(p1, image['id'], image['locations'][0]['id'], 'pending_delete')
    [row] = db.claim_pending_deletes('w1')
    assert db.complete_pending_delete(row['id'], 'w1')
    got = db.image_get(p1, image['id'])
    assert got['status'] == 'active' and len(got['locations']) == 1


def test_claim_respects_delete_time_and_expired_leases(db, p1):
    image = make(db, p1, urls=('file:///1',))
    db.image_destroy(p1, image['id'], delayed=True)
    assert db.claim_pending_deletes('w1', older_than=3600) == []   # not due yet
    [row] = db.claim_pending_deletes('w1', older_than=0, lease_seconds=0)
    [again] = db.claim_pending_deletes('w2', lease_seconds=60)      # lease expired
    assert again['id'] == row['id']
    assert not db.complete_pending_delete(row['id'], 'w1')          # w1 lost it
    assert db.complete_pending_delete(row['id'], 'w2')


def test_fail_records_error_and_backs_off(db, p1):
    image = make(db, p1, urls=('file:///1',))
    db.image_destroy(p1, image['id'], delayed=True)
    [row] = db.claim_pending_deletes('w1')
    assert not db.fail_pending_delete(row['id'], 'w2', 'nope', 0)
    assert db.fail_pending_delete(row['id'], 'w1', 'disk on fire', retry_after_seconds=3600)
    assert db.claim_pending_deletes('w1') == []                      # backing off
    with db.engine.connect() as conn:
        r = conn.execute(locations.select()).one()
    assert (r.attempts, r.last_error, r.lease_owner) == (1, 'disk on fire', None)
    db.fail_pending_delete(row['id'], 'w1', 'x', 0)  # no lease any more: refused
    with db.engine.begin() as conn:
        conn.execute(locations.update().values(next_attempt_at=None))
    [row] = db.claim_pending_deletes('w1')
    assert row['attempts'] == 1


def test_restore_refused_while_a_location_is_being_scrubbed(db, p1):
    image = make(db, p1, urls=('file:///1',))
    db.image_destroy(p1, image['id'], delayed=True)
    [row] = db.claim_pending_deletes('w1')
    with pytest.raises(exceptions.Conflict, match='scrubbed'):
        db.image_restore(p1, image['id'])
    db.fail_pending_delete(row['id'], 'w1', 'interrupted', 0)
    assert db.image_restore(p1, image['id'])['locations'][0]['url'] == 'file:///1'
    assert db.claim_pending_deletes('w1') == []


def test_threads_never_claim_the_same_row(db, p1):
    for n in range(12):
        db.image_destroy(p1, make(db, p1, urls=('file:///%d/a' % n, 'file:///%d/b' % n))['id'],
                         delayed=True)
    outcomes = concurrency.in_threads(
        [lambda i=i: db.claim_pending_deletes('w%d' % i, limit=5) for i in range(6)])
    assert all(kind == 'ok' for kind, _ in outcomes), outcomes
    claimed = [row['id'] for _, rows in outcomes for row in rows]
    assert len(claimed) == len(set(claimed)) == 24


def test_processes_never_claim_the_same_row(db, p1):
    for n in range(20):
        db.image_destroy(p1, make(db, p1, urls=('file:///%d/a' % n, 'file:///%d/b' % n))['id'],
                         delayed=True)
    results = concurrency.in_processes(workers.claim, (db.url, 'w'), n=4)
    claimed = [i for ids in results for i in ids]
    assert len(results) == 4
    assert len(claimed) == len(set(claimed)) == 40


# -- backfill -----------------------------------------------------------------

class Resolver:
    """A resolver by URL prefix, counting its calls."""

    def __init__(self, prefixes):
        self.prefixes = prefixes
        self.calls = 0

    def names(self):
        return list(self.prefixes)

    def resolve(self, url):
        self.calls += 1
        for name, prefix in self.prefixes.items():
            if url.startswith(prefix):
                return name
        return None


def test_backfill_on_get_persists(db, p1):
    image = db.image_create(p1, {'locations': [
        {'url': 'file:///fast/1'}, {'url': 'file:///cold/1', 'metadata': {'store': 'gone'}},
        {'url': 'file:///fast/2', 'metadata': {'store': 'fast', 'k': 'v'}},
        {'url': 'http://nowhere/x'}]})
    db.resolver = Resolver({'fast': 'file:///fast/', 'cold': 'file:///cold/'})
    got = db.image_get(p1, image['id'])
    assert [loc['metadata'].get('store') for loc in got['locations']] == [
        'fast', 'cold', 'fast', None]
    assert got['locations'][2]['metadata'] == {'store': 'fast', 'k': 'v'}
    db.resolver = None
    stored = db.image_get(p1, image['id'])
    assert [loc['metadata'].get('store') for loc in stored['locations']] == [
        'fast', 'cold', 'fast', None]
    db.resolver = resolver = Resolver({'fast': 'file:///fast/', 'cold': 'file:///cold/'})
    db.image_get_all(p1)
    assert resolver.calls == 1                 # only the unresolvable one is retried


def test_locations_written_with_a_resolver_name_their_store(db, p1):
    db.resolver = Resolver({'fast': 'file:///fast/', 'cold': 'file:///cold/'})
    image = db.image_create(p1, {'locations': [{'url': 'file:///fast/1'}]})
    added = db.image_location_add(p1, image['id'], {'url': 'file:///cold/1',
                                                    'metadata': {'k': 'v'}})
    assert added['metadata'] == {'k': 'v', 'store': 'cold'}
    db.image_location_add(p1, image['id'], {'url': 'http://nowhere/x'})
    db.resolver = None
    stored = db.image_get(p1, image['id'])
    assert [loc['metadata'].get('store') for loc in stored['locations']] == [
        'fast', 'cold', None]


def test_bulk_scan_and_store_names(db, p1):
    for n in range(7):
        db.image_create(p1, {'locations': [{'url': 'file:///fast/%d' % n,
                                            'metadata': {'keep': n}}]})
    gone = db.image_create(p1, {'locations': [{'url': 'file:///fast/gone'}]})
    db.image_destroy(p1, gone['id'])
    assert db.count_live_locations() == 7
    batches = list(db.scan_locations(batch_size=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    rows = [row for batch in batches for row in batch]
    assert [store for _, _, store in rows] == [None] * 7
    assert db.set_location_stores([(loc_id, 'fast') for loc_id, _, _ in rows]) == 7
    after = [row for batch in db.scan_locations(batch_size=100) for row in batch]
    assert [store for _, _, store in after] == ['fast'] * 7
    image = db.image_get(p1, db.image_get_all(p1, limit=1, sort_key='created_at',
                                              sort_dir='asc')[0]['id'])
    assert image['locations'][0]['metadata'] == {'keep': 0, 'store': 'fast'}
    tail = list(db.scan_locations(batch_size=100, after_id=rows[4][0]))
    assert [row[0] for row in tail[0]] == [rows[5][0], rows[6][0]]
    assert count_rows(db, 'locations', status='deleted') == 1


def test_bulk_store_names_refuse_unsafe_names(db, p1):
    image = db.image_create(p1, {'locations': [{'url': 'file:///fast/1'}]})
    loc_id = image['locations'][0]['id']
    with pytest.raises(exceptions.Invalid, match='bad store name'):
        db.set_location_stores([(loc_id, "x'; DROP TABLE images; --")])
    assert db.image_get(p1, image['id'])['locations'][0]['metadata'] == {}


def test_leased_location_cannot_be_reactivated(db, p1):
    image = make(db, p1, urls=('file:///1', 'file:///2'))
    loc_id = image['locations'][0]['id']
    db.image_location_delete(p1, image['id'], loc_id, 'pending_delete')
    [row] = db.claim_pending_deletes('w1')
    with pytest.raises(exceptions.Conflict, match='w1'):
        db.image_location_update(p1, image['id'], {'id': loc_id, 'status': 'active'})
    db.fail_pending_delete(row['id'], 'w1', 'stopped', 0)
    db.image_location_update(p1, image['id'], {'id': loc_id, 'status': 'active'})
    assert len(db.image_get(p1, image['id'])['locations']) == 2
