"""Cross-project property suite: no project reads, changes, shares or
destroys what DESIGN keeps from it, on SQLite, PostgreSQL and MariaDB.

A hypothesis state machine drives a small world: projects whose names differ
only by case, accent or a trailing space (``alice``, ``ALICE``, ``Alice ``,
``alicé``) plus ``bob`` and an admin; images of every visibility with real
bytes in two file stores; members in every status; locations whose URLs
carry secrets (Basic-auth userinfo, signed queries); dependencies. Every
public operation is a rule, called by any project on any image: read, list,
download, update, location add / share / remove, member add / status /
remove, dependency add / remove, delete (immediate and delayed), restore,
and the scrubber. After every step:

* a refused operation (the caller may not do it) raised Forbidden or
  NotFound and changed no row anywhere;
* every project lists (widest listing) and gets exactly the live images the
  DESIGN rule lets it see, downloads exactly those, and finds only member
  records it takes part in;
* no non-admin result (image, list, member, download location) holds a URL
  secret;
* every file some non-deleted location references still holds the bytes
  written for it, and every active image whose locations are its own still
  downloads byte-equal (nothing of another project is ever destroyed).

The reliability conftest also checks that no secret reaches a log line or an
exception message.
"""

import os

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, rule,
                                 run_state_machine_as_test)

from store_kit import exceptions
from store_kit import location as loc_mod
from store_kit.catalog import Catalog, models
from store_kit.context import RequestContext
from store_kit.images import ImageService
from store_kit.scrubber import Scrubber
from tests import helpers
from tests.catalog import databases
from tests.catalog.helpers import clean
from tests.ops.conftest import STORES_CONF
from tests.reliability import conftest as watch

PROJECTS = ('alice', 'ALICE', 'Alice ', 'alicé', 'bob')
ADMIN = RequestContext('admin', is_admin=True)
CALLERS = PROJECTS + ('admin',)
VISIBILITIES = ('private', 'shared', 'public', 'community')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected')
#: secrets in location URLs: no non-admin result, log line or error may hold one
SECRETS = tuple('xproj-secret-%d' % i for i in range(8))
watch.WATCHED.update(SECRETS)
#: the images every example starts with: (owner, visibility)
SEED = tuple(('alice', v) for v in VISIBILITIES) + (
    ('ALICE', 'private'), ('ALICE', 'shared'), ('bob', 'shared'), ('bob', 'public'))
#: what a refused operation may raise
REFUSED = (exceptions.Forbidden, exceptions.NotFound)
#: per engine: (examples, steps per example); the whole suite stays near a minute
LOAD = {'sqlite': (8, 40), 'postgresql': (6, 30), 'mariadb': (6, 30)}

pick = st.integers(min_value=0, max_value=10 ** 6)
caller = st.sampled_from(CALLERS)


def ctx_of(name):
    return ADMIN if name == 'admin' else RequestContext(name)


def leaks(value):
    text = repr(value)
    return [s for s in SECRETS if s in text]


def path_of(url):
    """The file path a file:// location names (any spelling)."""
    return loc_mod.parse(url).path


class Truth:
    """The catalog's rows, read with plain SQL (not through the API)."""

    def __init__(self, db):
        with db.engine.connect() as conn:
            self.images = {r.id: dict(r._mapping) for r in conn.execute(
                sa.select(models.images))}
            self.members = [dict(r._mapping) for r in conn.execute(
                sa.select(models.members).order_by(models.members.c.id))]
            self.locations = [dict(r._mapping) for r in conn.execute(
                sa.select(models.locations).order_by(models.locations.c.id))]
            self.edges = {(r.source_id, r.target_id) for r in conn.execute(
                sa.select(models.dependencies))}

    def rows(self):
        """Everything, comparable between two snapshots."""
        def clean_(row):
            return {k: v for k, v in row.items() if k not in ('lease_owner', 'lease_until')}
        return (sorted((k, sorted(clean_(v).items(), key=str)) for k, v in self.images.items()),
                [sorted(clean_(m).items(), key=str) for m in self.members],
                [sorted(clean_(loc).items(), key=str) for loc in self.locations],
                sorted(self.edges))

    def live_member(self, image_id, project):
        return next((m for m in self.members if m['image_id'] == image_id
                     and m['member'] == project and not m['deleted']), None)

    def may_see(self, project, image):
        """DESIGN's by-id rule, with exact comparisons."""
        if project == 'admin':
            return True
        return (image['owner'] == project or image['visibility'] in ('public', 'community')
                or (image['visibility'] == 'shared'
                    and self.live_member(image['id'], project) is not None))

    def owns(self, project, image_id):
        image = self.images.get(image_id)
        return project == 'admin' or (image is not None and image['owner'] == project)

    def ordered(self, ids):
        """``ids`` in creation order (ids are random: hypothesis needs every
        replay of an example to pick the same images)."""
        return sorted(ids, key=lambda i: (self.images[i]['created_at'], i))

    def live(self):
        return self.ordered(i for i, img in self.images.items() if not img['deleted'])


class World(RuleBasedStateMachine):
    """One world per example; ``db``, ``registry``, ``root`` are set by the test."""

    db = registry = root = None

    def __init__(self):
        super().__init__()
        clean(self.db)
        for store in ('fast', 'cold'):
            datadir = os.path.join(self.root, store)
            for name in os.listdir(datadir):
                os.remove(os.path.join(datadir, name))
        self.svc = ImageService(self.db, self.registry)
        self.delayed = ImageService(self.db, self.registry, delayed_delete=True)
        self.bytes_at = {}          # file path -> bytes written there
        self.own_data = {}          # image id -> its bytes (uploaded)
        self.mixed = set()          # images given another image's data (by an admin)
        self.counter = 0
        self.steps = 0
        self.actor = 'admin'        # who acted last: checked by id at once

    # -- helpers --------------------------------------------------------------

    def _image(self, index, truth=None, live=True):
        truth = truth or Truth(self.db)
        ids = truth.live() if live else truth.ordered(truth.images)
        return ids[index % len(ids)] if ids else None

    def _data(self):
        self.counter += 1
        return ('image %d ' % self.counter).encode() * (50 + self.counter % 7)

    def _secret_url(self):
        self.counter += 1
        return 'http://reader:%s@web.example/img-%d?sig=%s' % (
            SECRETS[self.counter % 4], self.counter, SECRETS[4 + self.counter % 4])

    def _attempt(self, who, allowed, call):
        """Run ``call`` as ``who``; a refused call raised Forbidden/NotFound
        and changed nothing; an allowed one raised at most a StoreKitError."""
        self.actor = who
        before = Truth(self.db).rows()
        try:
            result = call()
        except exceptions.StoreKitError as exc:
            if not allowed:
                assert isinstance(exc, REFUSED), (who, exc)
                assert Truth(self.db).rows() == before, ('a refused call changed rows', who)
            return None
        assert allowed, ('%s was allowed to do it' % who)
        if who != 'admin':
            assert leaks(result) == [], (who, result)
        return result

    # -- the world ------------------------------------------------------------

    @initialize()
    def seed(self):
        """Images of every visibility (alice), and of ALICE and bob; a secret
        location on a third of them; members in every status."""
        for owner, visibility in SEED:
            self._upload(owner, visibility)
        truth = Truth(self.db)
        shared = [i for i in truth.live() if truth.images[i]['visibility'] == 'shared']
        for n, image_id in enumerate(shared):
            owner = truth.images[image_id]['owner']
            for k, member in enumerate(('Alice ', 'alicé', 'bob', 'alice')):
                if member != owner:
                    record = self.db.image_member_create(ADMIN, {'image_id': image_id,
                                                                 'member': member})
                    self.db.image_member_update(ADMIN, record['id'], {
                        'status': MEMBER_STATUSES[(n + k) % 3]})
        for image_id in truth.live()[::3]:
            self.db.image_location_add(ADMIN, image_id, {'url': self._secret_url()})

    def _upload(self, owner, visibility):
        data = self._data()
        image = self.svc.upload(ctx_of(owner), data, visibility=visibility,
                                name='%s-%s' % (owner, visibility))
        [loc] = image['locations']
        self.bytes_at[path_of(loc['url'])] = data
        self.own_data[image['id']] = data
        return image

    # -- rules: every public operation, by anyone, on anything ------------------

    @rule(who=st.sampled_from(PROJECTS), visibility=st.sampled_from(VISIBILITIES))
    def upload(self, who, visibility):
        self._upload(who, visibility)

    @rule(who=caller, index=pick)
    def read(self, who, index):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        if image_id is None:
            return
        visible = truth.may_see(who, truth.images[image_id])
        self._attempt(who, visible, lambda: self.db.image_get(ctx_of(who), image_id))
        self._attempt(who, visible, lambda: self.db.image_tag_get_all(ctx_of(who), image_id))
        self._attempt(who, visible,
                      lambda: self.db.image_member_count(ctx_of(who), image_id))

    @rule(who=caller, index=pick)
    def download(self, who, index):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        if image_id is None:
            return
        visible = truth.may_see(who, truth.images[image_id])
        got = self._attempt(who, visible, lambda: self.svc.download(ctx_of(who), image_id))
        if got is not None:
            data = b''.join(got)
            if image_id not in self.mixed:
                assert data == self.own_data[image_id]
            if who != 'admin':
                assert leaks(got.location) == []

    @rule(who=caller, index=pick, visibility=st.sampled_from(VISIBILITIES),
          protected=st.booleans())
    def update(self, who, index, visibility, protected):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        if image_id is None:
            return
        self._attempt(who, truth.owns(who, image_id), lambda: self.db.image_update(
            ctx_of(who), image_id, {'visibility': visibility, 'protected': protected,
                                    'properties': {'by': who}, 'tags': [who]}))

    @rule(who=caller, index=pick)
    def add_secret_location(self, who, index):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        if image_id is None:
            return
        self._attempt(who, truth.owns(who, image_id), lambda: self.db.image_location_add(
            ctx_of(who), image_id, {'url': self._secret_url()}))

    @rule(who=st.sampled_from(PROJECTS), src=pick, dst=pick,
          spelling=st.sampled_from(['file://{p}', 'file://localhost{p}', 'FILE://{p}',
                                    'filesystem://{d}//{n}', 'file://{d}/./{n}']),
          how=st.sampled_from(['add_location', 'location_add', 'update', 'create']))
    def take_data(self, who, src, dst, spelling, how):
        """A project attaches the data of another image to one of its own (or
        creates an image on it): data is shared only by admins."""
        truth = Truth(self.db)
        files = [loc for loc in truth.locations
                 if loc['status'] != 'deleted' and loc['url'].startswith('file://')]
        target = self._image(dst, truth)
        if not files or target is None:
            return
        loc = files[src % len(files)]
        path = path_of(loc['url'])
        url = spelling.format(p=path, d=os.path.dirname(path), n=os.path.basename(path))
        ctx = ctx_of(who)
        call = {
            'add_location': lambda: self.svc.add_location(ctx, target, url),
            'location_add': lambda: self.db.image_location_add(ctx, target, {'url': url}),
            'update': lambda: self.db.image_update(ctx, target, {'locations': [
                {'url': url}]}),
            'create': lambda: self.db.image_create(ctx, {'locations': [{'url': url}]}),
        }[how]
        if how == 'create' or loc['image_id'] != target:
            self._attempt(who, False, call)

    @rule(src=pick, dst=pick)
    def admin_shares_data(self, src, dst):
        """Sharing on purpose: the other image's later delete must keep it."""
        truth = Truth(self.db)
        files = [loc for loc in truth.locations
                 if loc['status'] == 'active' and loc['url'].startswith('file://')]
        target = self._image(dst, truth)
        if not files or target is None:
            return
        loc = files[src % len(files)]
        if loc['image_id'] != target:
            self._attempt('admin', True, lambda: self.db.image_location_add(
                ADMIN, target, {'url': 'file://localhost' + path_of(loc['url'])}))
            self.mixed.add(target)

    @rule(who=caller, index=pick, which=pick, delayed=st.booleans())
    def remove_location(self, who, index, which, delayed):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        active = [loc for loc in truth.locations
                  if loc['image_id'] == image_id and loc['status'] == 'active']
        if not active:
            return
        loc_id = active[which % len(active)]['id']
        svc = self.delayed if delayed else self.svc
        self._attempt(who, truth.owns(who, image_id),
                      lambda: svc.remove_location(ctx_of(who), image_id, loc_id))

    @rule(who=caller, index=pick, member=st.sampled_from(PROJECTS))
    def add_member(self, who, index, member):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        if image_id is None:
            return
        self._attempt(who, truth.owns(who, image_id), lambda: self.db.image_member_create(
            ctx_of(who), {'image_id': image_id, 'member': member}))

    @rule(who=caller, which=pick, status=st.sampled_from(MEMBER_STATUSES))
    def set_member_status(self, who, which, status):
        truth = Truth(self.db)
        records = [m for m in truth.members if not m['deleted']]
        if not records:
            return
        record = records[which % len(records)]
        self._attempt(who, who in ('admin', record['member']),
                      lambda: self.db.image_member_update(ctx_of(who), record['id'],
                                                          {'status': status}))

    @rule(who=caller, which=pick)
    def remove_member(self, who, which):
        truth = Truth(self.db)
        records = [m for m in truth.members if not m['deleted']]
        if not records:
            return
        record = records[which % len(records)]
        self._attempt(who, truth.owns(who, record['image_id']),
                      lambda: self.db.image_member_delete(ctx_of(who), record['id']))

    @rule(who=caller, src=pick, dst=pick)
    def depend(self, who, src, dst):
        truth = Truth(self.db)
        source, target = self._image(src, truth), self._image(dst, truth)
        if source is None:
            return
        t = truth.images[target]
        allowed = truth.owns(who, source) and (
            who == 'admin' or (truth.may_see(who, t) and (
                t['owner'] == truth.images[source]['owner'] or t['visibility'] == 'public')))
        self._attempt(who, allowed, lambda: self.db.set_hard_dependencies(
            ctx_of(who), source, [target]))

    @rule(who=caller, which=pick)
    def undepend(self, who, which):
        truth = Truth(self.db)
        rank = {i: n for n, i in enumerate(truth.ordered(truth.images))}
        edges = sorted(truth.edges, key=lambda e: (rank[e[0]], rank[e[1]]))
        if not edges:
            return
        source, target = edges[which % len(edges)]
        self._attempt(who, truth.owns(who, source), lambda: self.db.delete_hard_dependencies(
            ctx_of(who), source, target))

    @rule(who=caller, index=pick, delayed=st.booleans())
    def delete(self, who, index, delayed):
        truth = Truth(self.db)
        image_id = self._image(index, truth)
        if image_id is None:
            return
        svc = self.delayed if delayed else self.svc
        self._attempt(who, truth.owns(who, image_id),
                      lambda: svc.delete(ctx_of(who), image_id))

    @rule(who=caller, index=pick)
    def restore(self, who, index):
        truth = Truth(self.db)
        image_id = self._image(index, truth, live=False)
        if image_id is None:
            return
        image = truth.images[image_id]
        allowed = truth.owns(who, image_id) and (who == 'admin' or truth.may_see(who, image))
        self._attempt(who, allowed, lambda: self.svc.restore(ctx_of(who), image_id))

    @rule()
    def scrub(self):
        Scrubber(self.db, self.registry).run_once()

    # -- invariants -----------------------------------------------------------

    def _checked_by_id(self):
        """The project that acted last, else one in turn: the by-id checks
        (get, download) cost a call per live image and project."""
        self.steps += 1
        return self.actor if self.actor != 'admin' else PROJECTS[self.steps % len(PROJECTS)]

    @invariant()
    def everyone_sees_exactly_what_design_allows(self):
        truth = Truth(self.db)
        live = {i: truth.images[i] for i in truth.live()}
        by_id = self._checked_by_id()
        for who in PROJECTS:
            ctx = ctx_of(who)
            allowed = {i for i, img in live.items() if truth.may_see(who, img)}
            widest = self.db.image_get_all(ctx, filters={'visibility': 'all'},
                                           member_status='all', return_tag=True)
            assert {i['id'] for i in widest} == allowed, who
            assert leaks(widest) == [], who
            for record in self.db.image_member_find(ctx, include_deleted=True):
                assert who in (record['member'], truth.images[record['image_id']]['owner'])
            if who != by_id:
                continue
            assert {i['id'] for i in self.db.image_get_all(ctx)} <= allowed, who
            for image_id in live:
                try:
                    got = self.db.image_get(ctx, image_id)
                except exceptions.ImageNotFound:
                    assert image_id not in allowed, (who, image_id)
                    with pytest.raises(exceptions.ImageNotFound):  # nor its bytes
                        self.svc.download(ctx, image_id)
                else:
                    assert image_id in allowed, (who, image_id)
                    assert leaks(got) == []

    @invariant()
    def no_data_is_destroyed_while_referenced(self):
        truth = Truth(self.db)
        for loc in truth.locations:
            if loc['status'] == 'deleted' or not loc['url'].startswith('file://'):
                continue
            path = path_of(loc['url'])
            with open(path, 'rb') as f:
                assert f.read() == self.bytes_at[path], loc
        live = truth.live()
        for image_id in live[self.steps % 4::4]:      # a quarter in turn: by the API
            image = truth.images[image_id]
            own = [loc for loc in truth.locations if loc['image_id'] == image_id
                   and loc['status'] == 'active' and loc['url'].startswith('file://')]
            if image['status'] == 'active' and own and image_id not in self.mixed:
                assert b''.join(self.svc.download(ADMIN, image_id)) == \
                    self.own_data[image_id]


@pytest.fixture(params=databases.ENGINES)
def world(request, tmp_path):
    url = databases.create_database(request.param, tmp_path)
    registry = helpers.make_registry(tmp_path, STORES_CONF.format(root=tmp_path))
    db = Catalog(url, resolver=registry)
    db.create_schema()
    yield request.param, db, registry, str(tmp_path)
    db.dispose()
    databases.drop_database(request.param, url)


def test_no_project_reaches_what_design_keeps_from_it(world):
    engine_name, db, registry, root = world
    examples, steps = LOAD[engine_name]
    machine = type('World_%s' % engine_name, (World,),
                   {'db': db, 'registry': registry, 'root': root})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
