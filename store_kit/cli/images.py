"""Image commands: upload, list, show, download, delete, restore; members
and dependencies."""

import os
import sys
import tempfile

from store_kit import exceptions
from store_kit.cli.base import (IMAGE, ProgressReader, UsageError, arg,
                                emit_object, emit_rows, image_view,
                                progress_bar)


def _properties(pairs):
    props = {}
    for pair in pairs or []:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise UsageError('--property wants KEY=VALUE, got %r' % pair)
        props[key] = value
    return props


def cmd_image_upload(env, args):
    values = {'name': args.name or os.path.basename(args.file),
              'visibility': args.visibility, 'disk_format': args.disk_format,
              'container_format': args.container_format}
    values = {k: v for k, v in values.items() if v is not None}
    props = _properties(args.property)
    if props:
        values['properties'] = props
    if args.protected:
        values['protected'] = True
    try:
        f = open(args.file, 'rb')
    except OSError as exc:
        raise exceptions.StoreKitError('cannot read %s: %s' % (args.file, exc.strerror))
    with f, progress_bar(os.fstat(f.fileno()).st_size, 'upload') as bar:
        image = env.service().upload(env.ctx, ProgressReader(f, bar),
                                     size=os.fstat(f.fileno()).st_size,
                                     store=args.store, **values)
    emit_object(args, image_view(image))


def cmd_image_list(env, args):
    filters = {}
    if args.status:
        filters['status'] = args.status
    images = env.catalog().image_get_all(env.ctx, filters=filters,
                                         member_status=args.member_status)
    emit_rows(args, images, ['id', 'name', 'status', 'size', 'owner', 'visibility'])


def cmd_image_show(env, args):
    emit_object(args, image_view(env.catalog().image_get(env.ctx, args.image_id)))


def cmd_image_download(env, args):
    chunks = env.service().download(env.ctx, args.image_id)
    if args.output == '-':
        with chunks:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
        return 0
    target = os.path.abspath(args.output)
    fd, part = tempfile.mkstemp(dir=os.path.dirname(target),
                                prefix='.%s.' % os.path.basename(target), suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as out, chunks, progress_bar(chunks.size, 'download') as bar:
            for chunk in chunks:
                out.write(chunk)
                bar.update(len(chunk))
        os.replace(part, target)
    except BaseException:
        os.unlink(part)
        raise
    print('%s: %d bytes from store %s, size and checksums verified'
          % (args.output, chunks.size, chunks.store))


def cmd_image_delete(env, args):
    svc = env.service()
    if args.delayed:
        svc.delayed_delete = True
    image = svc.delete(env.ctx, args.image_id)
    print('image %s is %s' % (image['id'], image['status']))


def cmd_image_restore(env, args):
    image = env.service().restore(env.ctx, args.image_id)
    print('image %s is %s again' % (image['id'], image['status']))


MEMBER_COLUMNS = ['image_id', 'member', 'status', 'can_share', 'updated_at']


def _member(env, image_id, member):
    found = env.catalog().image_member_find(env.ctx, image_id=image_id, member=member)
    if not found:
        raise exceptions.MemberNotFound('image %s has no member %s' % (image_id, member))
    return found[0]


def cmd_member_add(env, args):
    record = env.catalog().image_member_create(env.ctx, {
        'image_id': args.image_id, 'member': args.member, 'can_share': args.can_share})
    emit_rows(args, [record], MEMBER_COLUMNS)


def cmd_member_list(env, args):
    emit_rows(args, env.catalog().image_member_find(env.ctx, image_id=args.image_id),
              MEMBER_COLUMNS)


def cmd_member_update(env, args):
    record = _member(env, args.image_id, args.member)
    record = env.catalog().image_member_update(env.ctx, record['id'],
                                               {'status': args.status})
    emit_rows(args, [record], MEMBER_COLUMNS)


def cmd_member_delete(env, args):
    record = _member(env, args.image_id, args.member)
    env.catalog().image_member_delete(env.ctx, record['id'])
    print('member %s removed from image %s' % (args.member, args.image_id))


def cmd_dependency_set(env, args):
    env.catalog().set_hard_dependencies(env.ctx, args.image_id, args.targets)
    print('image %s depends on %s' % (args.image_id, ', '.join(args.targets)))


def cmd_dependency_list(env, args):
    db = env.catalog()
    rows = [{'relation': 'depends on', 'image_id': i}
            for i in db.get_hard_dependencies(env.ctx, args.image_id)]
    rows += [{'relation': 'needed by', 'image_id': i}
             for i in db.get_hard_dependencies_children(env.ctx, args.image_id)]
    emit_rows(args, rows, ['relation', 'image_id'])


def cmd_dependency_delete(env, args):
    env.catalog().delete_hard_dependencies(env.ctx, args.image_id, args.target)
    print('image %s no longer depends on %s' % (args.image_id, args.target))


COMMANDS = [
    ('image-upload', cmd_image_upload, 'upload a file as a new image', (
        arg('file', metavar='FILE'), arg('--name'), arg('--store'),
        arg('--visibility', choices=('private', 'shared', 'public', 'community')),
        arg('--disk-format'), arg('--container-format'),
        arg('--property', action='append', metavar='KEY=VALUE'),
        arg('--protected', action='store_true'))),
    ('image-list', cmd_image_list, 'list the images you can see',
     (arg('--status'), arg('--member-status', default='accepted',
                           choices=('pending', 'accepted', 'rejected', 'all'),
                           help='shared images listed by membership status'))),
    ('image-show', cmd_image_show, 'show one image', (IMAGE,)),
    ('image-download', cmd_image_download, 'download (and verify) an image',
     (IMAGE, arg('-o', '--output', required=True, metavar='FILE',
                 help='where to write it ("-" for stdout)'))),
    ('image-delete', cmd_image_delete, 'delete an image', (
        IMAGE, arg('--delayed', action='store_true',
                   help='leave the data to the scrubber even if delayed_delete is off'))),
    ('image-restore', cmd_image_restore, 'bring a pending_delete image back', (IMAGE,)),
    ('member-add', cmd_member_add, 'share an image with a project',
     (IMAGE, arg('member', metavar='MEMBER'), arg('--can-share', action='store_true'))),
    ('member-list', cmd_member_list, 'list the members of an image', (IMAGE,)),
    ('member-update', cmd_member_update, 'accept or reject a shared image (as member)',
     (IMAGE, arg('member', metavar='MEMBER'),
      arg('status', choices=('pending', 'accepted', 'rejected')))),
    ('member-delete', cmd_member_delete, 'stop sharing an image with a project',
     (IMAGE, arg('member', metavar='MEMBER'))),
    ('dependency-set', cmd_dependency_set, 'IMAGE_ID depends on each TARGET',
     (IMAGE, arg('targets', nargs='+', metavar='TARGET'))),
    ('dependency-list', cmd_dependency_list, 'what an image depends on and what needs it',
     (IMAGE,)),
    ('dependency-delete', cmd_dependency_delete, 'remove one dependency',
     (IMAGE, arg('target', metavar='TARGET'))),
]
