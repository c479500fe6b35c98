"""Bulk backfill on every engine: resolve, write in batches, resume, report."""

import pytest
import sqlalchemy as sa

from store_kit import backfill
from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext

ADMIN = RequestContext(project_id='admin', is_admin=True)


@pytest.fixture
def catalog(any_engine_url):
    db = Catalog(any_engine_url)          # no resolver: reads never backfill
    yield db
    db.dispose()


def seed(db, tmp_path):
    """Locations of every kind; returns {url: expected store or None}."""
    expect = {}
    for i in range(25):
        expect['file://%s/fast/img-%d' % (tmp_path, i)] = 'fast'
        expect['file://%s/cold/img-%d' % (tmp_path, i)] = 'cold'
    expect['http://user:hunter2@legacy.example/images/1'] = None
    expect['http://legacy.example/images/2'] = None
    expect['s3://AKIA:s3cr3t@s3.example/bucket/obj'] = None
    urls = list(expect)
    for n in range(0, len(urls), 10):
        db.image_create(ADMIN, {'status': 'active', 'size': 1, 'locations': [
            {'url': u, 'metadata': {'keep': 'me'}} for u in urls[n:n + 10]]})
    return expect


def stored(db):
    t = models.locations
    with db.engine.connect() as conn:
        return {r.url: r.meta_data for r in conn.execute(sa.select(t.c.url, t.c.meta_data))}


def test_writes_the_owning_store_and_reports_the_rest(catalog, registry, tmp_path):
    expect = seed(catalog, tmp_path)
    report = backfill.run(catalog, registry, batch_size=7)
    assert (report.scanned, report.resolved, report.unresolved) == (53, 50, 3)
    rows = stored(catalog)
    for url, store in expect.items():
        assert rows[url].get('store') == store, url
        assert rows[url]['keep'] == 'me'          # other metadata survives
    assert dict(report.unresolved_by_origin) == {('http', 'legacy.example'): 2,
                                                 ('s3', 's3.example'): 1}
    text = '\n'.join(report.summary_lines())
    assert 'http://legacy.example' in text
    assert 'hunter2' not in text and 's3cr3t' not in text and 'AKIA' not in text


def test_rerun_is_idempotent_and_stale_names_are_replaced(catalog, registry, tmp_path):
    seed(catalog, tmp_path)
    backfill.run(catalog, registry)
    with catalog.engine.begin() as conn:     # a store was renamed since
        t = models.locations
        first = conn.execute(sa.select(t.c.id, t.c.url).order_by(t.c.id)).first()
        conn.execute(t.update().where(t.c.id == first.id).values(
            meta_data={'store': 'retired', 'keep': 'me'}))
    again = backfill.run(catalog, registry)
    assert (again.already, again.resolved, again.unresolved) == (49, 1, 3)
    assert stored(catalog)[first.url]['store'] in ('fast', 'cold')
    assert backfill.run(catalog, registry).resolved == 0


def test_dry_run_writes_nothing(catalog, registry, tmp_path):
    seed(catalog, tmp_path)
    before = stored(catalog)
    report = backfill.run(catalog, registry, dry_run=True)
    assert report.resolved == 50
    assert stored(catalog) == before
    assert 'would write 50' in report.summary_lines(dry_run=True)[0]


def test_interrupted_run_keeps_finished_batches_and_resumes(catalog, registry, tmp_path):
    seed(catalog, tmp_path)

    def interrupt(n, report):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill.run(catalog, registry, batch_size=10, progress=interrupt)
    done = [m for m in stored(catalog).values() if 'store' in m]
    assert len(done) == 10                      # exactly the first batch
    report = backfill.run(catalog, registry, batch_size=10)
    assert (report.already, report.resolved) == (10, 40)
    assert len([m for m in stored(catalog).values() if 'store' in m]) == 50


def test_deleted_locations_are_left_alone(catalog, registry, tmp_path):
    url = 'file://%s/fast/gone' % tmp_path
    image = catalog.image_create(ADMIN, {'status': 'active', 'size': 1, 'locations': [
        {'url': url, 'metadata': {}}]})
    catalog.image_destroy(ADMIN, image['id'])
    assert backfill.run(catalog, registry).scanned == 0
    assert stored(catalog)[url] == {}


def test_bad_batch_size(catalog, registry):
    with pytest.raises(Exception, match='batch size'):
        backfill.run(catalog, registry, batch_size=0)
