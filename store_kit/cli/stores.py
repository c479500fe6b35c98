"""Store and location commands: stores, resolve, location-add,
location-delete."""

from store_kit import location as loc_mod
from store_kit.cli.base import IMAGE, arg, emit_object, emit_rows, image_view


def cmd_stores(env, args):
    registry = env.registry
    reachable = registry.check_reachable()
    rows = []
    for name in registry.names():
        store = registry[name]
        ok, why = reachable[name]
        rows.append({'name': name, 'driver': store.driver_name,
                     'url_prefixes': [loc_mod.redact(p) for p in store.url_prefixes],
                     'default': name == registry.default.name,
                     'read_only': store.read_only,
                     'reachable': 'yes' if ok else 'no: %s' % why})
    emit_rows(args, rows, ['name', 'driver', 'url_prefixes', 'default', 'read_only',
                           'reachable'])


def cmd_resolve(env, args):
    registry = env.registry     # a bad config is exit 2, not "(none)"
    rows = [{'url': loc_mod.redact(url), 'store': registry.resolve(url)}
            for url in args.urls]
    if args.format == 'json':
        emit_rows(args, rows, ('url', 'store'))
    else:
        for row in rows:
            print('%s -> %s' % (row['url'], row['store'] or '(none)'))
    return 1 if any(r['store'] is None for r in rows) else 0


def cmd_location_add(env, args):
    image = env.service().add_location(env.ctx, args.image_id, args.url)
    emit_object(args, image_view(image))


def cmd_location_delete(env, args):
    image = env.service().remove_location(env.ctx, args.image_id, args.location_id)
    emit_object(args, image_view(image))


COMMANDS = [
    ('stores', cmd_stores, 'list the enabled stores', ()),
    ('resolve', cmd_resolve, 'name the store owning each location URL',
     (arg('urls', nargs='+', metavar='URL'),)),
    ('location-add', cmd_location_add, 'add an existing copy (URL) to an image',
     (IMAGE, arg('url', metavar='URL'))),
    ('location-delete', cmd_location_delete, 'remove one location of an image',
     (IMAGE, arg('location_id', type=int, metavar='LOCATION_ID'))),
]
