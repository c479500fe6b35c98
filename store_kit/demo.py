"""``store-kit demo``: what store_kit is for, in under a minute.

Runs on whatever the command was given (the embedded default when nothing
was), as projects ``demo-alice`` and ``demo-bob``; every step is printed.
"""

import io
import os
import time

from store_kit import backfill
from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import Catalog
from store_kit.context import RequestContext
from store_kit.images import ImageService
from store_kit.scrubber import Scrubber

ALICE = RequestContext(project_id='demo-alice')
BOB = RequestContext(project_id='demo-bob')
ADMIN = RequestContext(project_id='demo-admin', is_admin=True)


class _Steps:
    def __init__(self):
        self.n = 0

    def __call__(self, title):
        self.n += 1
        print('\n%d. %s' % (self.n, title))


def say(text):
    print('   ' + text)


def run(env):
    """Run the tour; returns 0."""
    start = time.monotonic()
    step = _Steps()
    registry, db = env.registry, env.catalog()
    svc = ImageService(db, registry, delayed_delete=True)

    step('The stores (URL prefixes are how a location URL finds its store)')
    if env.embedded:
        say('embedded default in %s' % env.embedded)
    for name in registry.names():
        store = registry[name]
        say('%-8s %-5s %s%s' % (name, store.driver_name,
                                ' '.join(loc_mod.redact(p) for p in store.url_prefixes),
                                '  (default)' if store is registry.default else ''))

    step('Upload two images as project demo-alice')
    base = svc.upload(ALICE, io.BytesIO(os.urandom(256 * 1024)), name='demo-base',
                      visibility='shared', disk_format='raw', container_format='bare')
    app = svc.upload(ALICE, io.BytesIO(b'application layer ' * 1000), name='demo-app',
                     visibility='private')
    for image in (base, app):
        [loc] = image['locations']
        say('%s %-9s %7d bytes  md5 %s  %s -> store %s' % (
            image['id'], image['name'], image['size'], image['checksum'],
            loc_mod.redact(loc['url']), loc['metadata']['store']))

    step('Register a legacy location (an old catalog row without metadata["store"])')
    data = b'legacy image data ' * 500
    copy = registry.default.add('legacy-%s' % base['id'][:8], io.BytesIO(data))
    old_catalog = Catalog(db.url)            # no resolver: writes as an old API would
    legacy = old_catalog.image_create(ALICE, {
        'name': 'demo-legacy', 'status': 'active', 'size': copy.size,
        'checksum': copy.checksum, 'visibility': 'private',
        'locations': [{'url': copy.url, 'metadata': {}}]})
    say('image %s at %s, metadata %s' % (
        legacy['id'], loc_mod.redact(copy.url), legacy['locations'][0]['metadata']))
    old_catalog.dispose()

    step('Resolve it, then backfill the whole catalog')
    say('%s -> %s' % (loc_mod.redact(copy.url), registry.resolve(copy.url)))
    report = backfill.run(db, registry)
    for line in report.summary_lines():
        say(line)
    say('the legacy location now says: %s'
        % db.image_get(ALICE, legacy['id'])['locations'][0]['metadata'])

    step('Share demo-base with project demo-bob')
    db.image_member_create(ALICE, {'image_id': base['id'], 'member': 'demo-bob'})
    [member] = db.image_member_find(BOB, image_id=base['id'], member='demo-bob')
    db.image_member_update(BOB, member['id'], {'status': 'accepted'})
    seen = [i['name'] for i in db.image_get_all(BOB) if i['name'].startswith('demo-')]
    say('demo-bob accepted and now lists: %s' % ', '.join(sorted(set(seen))))
    got = b''.join(svc.download(BOB, base['id']))
    say('demo-bob downloaded %d bytes; size, md5 and %s verified'
        % (len(got), base['os_hash_algo']))
    try:
        svc.download(BOB, app['id'])
    except exceptions.ImageNotFound as exc:
        say('but demo-app stays private: %s' % exc)

    step('demo-app depends on demo-base, so demo-base cannot be deleted')
    db.set_hard_dependencies(ALICE, app['id'], [base['id']])
    try:
        svc.delete(ALICE, base['id'])
    except exceptions.ImageInUse as exc:
        say('refused: %s' % exc)

    step('Delete (delayed): the data waits for the scrubber')
    for image in (app, base, legacy):
        svc.delete(ALICE, image['id'])
    for image in (app, base, legacy):
        after = db.image_get(ADMIN, image['id'])
        say('%s %-11s status %s' % (image['id'], image['name'], after['status']))
    say('restore demo-app: %s' % svc.restore(ALICE, app['id'])['status'])
    svc.delete(ALICE, app['id'])
    say('and delete it again: %s'
        % db.image_get(ADMIN, app['id'])['status'])

    step('Scrub')
    count = Scrubber(db, registry).run_once()
    say('scrubbed %d locations' % count)
    for image in (app, base, legacy):
        say('%s %-11s status %s' % (image['id'], image['name'],
                                    db.image_get(ADMIN, image['id'])['status']))
    try:
        registry.get_size(copy.url)
    except exceptions.NotFound:
        say('the legacy data is gone from the store')

    print('\ndone in %.1fs' % (time.monotonic() - start))
    return 0
