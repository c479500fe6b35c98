"""Hard dependencies between images.

Only direct edges are stored (``source`` depends on ``target``); transitive
questions are answered with ``WITH RECURSIVE``, so removing an edge never
forgets another path. Every graph change (adding edges, destroying an image)
first takes the graph lock (a row lock in ``locks``; SQLite's single writer
serialises on its own), so two transactions can never together close a
cycle, nor destroy an image while a dependency on it is being added.
"""

import sqlalchemy as sa

from store_kit import exceptions
from store_kit.catalog import models, values as checks, visibility
from store_kit.catalog.rows import utcnow

edges = models.dependencies
images = models.images


def closure(image_id, direction):
    """A recursive CTE of every image reached from ``image_id``.

    ``direction='targets'`` follows what it depends on, ``'sources'`` what
    depends on it.
    """
    start, step = ((edges.c.source_id, edges.c.target_id) if direction == 'targets'
                   else (edges.c.target_id, edges.c.source_id))
    cte = sa.select(step.label('id')).where(start == image_id).cte(
        'closure_%s' % direction, recursive=True)
    prev = cte.alias('prev')
    return cte.union(sa.select(step).where(start == prev.c.id))


class DependenciesMixin:
    """Dependency methods of :class:`store_kit.catalog.Catalog`."""

    def _plan_recursion(self, conn):
        """Make PostgreSQL walk the graph by index, level by level.

        Its planner assumes 10 rows per recursive step and, on small edge
        tables, picks a hash join over a sequential scan in every step:
        quadratic in the depth. Nested loops over the target index are linear.
        """
        if self.dialect == 'postgresql':
            conn.exec_driver_sql('SET LOCAL enable_hashjoin = off')
            conn.exec_driver_sql('SET LOCAL enable_mergejoin = off')

    def _reaches(self, conn, start, goal):
        """True if ``start`` depends on ``goal``, directly or transitively."""
        self._plan_recursion(conn)
        reach = closure(start, 'targets')
        return conn.execute(sa.select(reach.c.id).where(reach.c.id == goal)).first() \
            is not None

    def _check_no_dependents(self, conn, image_id):
        users = list(conn.execute(sa.select(edges.c.source_id).where(
            edges.c.target_id == image_id).order_by(edges.c.source_id).limit(5)).scalars())
        if users:
            raise exceptions.ImageInUse('image %s is in use: %s depend%s on it' % (
                image_id, ', '.join(users), 's' if len(users) == 1 else ''))

    def _drop_outgoing_edges(self, conn, image_id):
        conn.execute(edges.delete().where(edges.c.source_id == image_id))

    def set_hard_dependencies(self, ctx, source_id, target_ids):
        """Record that ``source_id`` depends on each of ``target_ids`` (idempotent).

        Refused: self-dependency or a cycle (DependencyCycle), a target the
        caller cannot see (ImageNotFound), another owner's non-public target
        (Forbidden).
        """
        checks.caller(ctx)
        source_id = checks.image_id(source_id)
        targets = list(dict.fromkeys(checks.image_ids(target_ids, 'target image id')))

        def fn(conn):
            self._lock_graph(conn)
            source = self._mutable_image(conn, ctx, source_id)
            have = set(conn.execute(sa.select(edges.c.target_id).where(
                edges.c.source_id == source['id'])).scalars())
            now = utcnow()
            for target_id in targets:
                if target_id == source['id']:
                    raise exceptions.DependencyCycle('image %s cannot depend on itself'
                                                     % (source_id,))
                if target_id in have:
                    continue
                target = self._image_row(conn, ctx, target_id, live=True)
                target_id = target['id']            # the stored spelling
                if target['owner'] != source['owner'] and target['visibility'] != 'public':
                    raise exceptions.Forbidden(
                        'image %s cannot depend on image %s: it belongs to another owner '
                        'and is not public' % (source_id, target_id))
                if self._reaches(conn, target_id, source['id']):
                    raise exceptions.DependencyCycle(
                        'image %s cannot depend on image %s: %s already depends on %s'
                        % (source_id, target_id, target_id, source_id))
                conn.execute(edges.insert().values(source_id=source['id'],
                                                   target_id=target_id, created_at=now))
                have.add(target_id)
        return self._run(fn, write=True, what='dependencies of image %s' % (source_id,))

    def delete_hard_dependencies(self, ctx, source_id, target_id):
        """Remove the one edge ``source_id`` -> ``target_id`` (NotFound if absent)."""
        checks.caller(ctx)
        source_id = checks.image_id(source_id)
        target_id = checks.image_id(target_id, 'target image id')

        def fn(conn):
            source = self._mutable_image(conn, ctx, source_id)
            gone = conn.execute(edges.delete().where(edges.c.source_id == source['id'],
                                                     edges.c.target_id == target_id)).rowcount
            if not gone:
                raise exceptions.NotFound('image %s does not depend on image %s'
                                          % (source_id, target_id))
        return self._run(fn, write=True, what='dependency %s -> %s' % (source_id, target_id))

    def _related(self, ctx, image_id, direction):
        checks.caller(ctx)
        image_id = checks.image_id(image_id)

        def fn(conn):
            image = self._image_row(conn, ctx, image_id)
            self._plan_recursion(conn)
            reach = closure(image['id'], direction)
            # sorted here: collation-aware ORDER BY on 10k ids costs more
            return sorted(conn.execute(
                sa.select(images.c.id).join(reach, reach.c.id == images.c.id)
                .where(visibility.sql_predicate(ctx, mode='get'))).scalars().all())
        return self._run(fn, what='dependencies of image %s' % (image_id,), transaction=True)

    def get_hard_dependencies(self, ctx, image_id):
        """Ids of every image ``image_id`` depends on, transitively."""
        return self._related(ctx, image_id, 'targets')

    def get_hard_dependencies_children(self, ctx, image_id):
        """Ids of every image that depends on ``image_id``, transitively."""
        return self._related(ctx, image_id, 'sources')
