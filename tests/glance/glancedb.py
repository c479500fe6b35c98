"""glance's own database for tests and benchmarks: created by glance itself
(``glance-manage db_sync``) on a throw-away database, filled by SQL the way
an upgraded deployment's rows look."""

import datetime
import json
import os
import subprocess

import sqlalchemy as sa

from tests.catalog import databases
from tests.glance import server


def create(engine_name, tmp_dir):
    """A new glance database on *engine_name* with glance's schema; returns
    its URL (skips, or fails when servers are required, if unreachable)."""
    url = databases.create_database(engine_name, tmp_dir)
    if engine_name == 'sqlite':
        os.makedirs(os.path.dirname(url[len('sqlite:///'):]), exist_ok=True)
    conf = os.path.join(str(tmp_dir), 'glance-manage-%s.conf' % engine_name)
    with open(conf, 'w') as f:
        f.write('[database]\nconnection = %s\n' % url)
    try:
        server.db_sync(conf)
    except subprocess.CalledProcessError as exc:
        databases.drop_database(engine_name, url)
        raise RuntimeError('glance-manage db_sync failed on %s:\n%s'
                           % (engine_name, exc.stderr.decode('utf-8', 'replace')[-3000:]))
    return url


drop = databases.drop_database


def engine(url):
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def tables(conn):
    meta = sa.MetaData()
    meta.reflect(conn, only=('images', 'image_locations'))
    return meta.tables['images'], meta.tables['image_locations']


def now():
    return datetime.datetime.utcnow().replace(microsecond=0)


def image_row(image_id, size=0, status='active', when=None):
    when = when or now()
    return {'id': image_id, 'name': 'img', 'size': size, 'status': status,
            'created_at': when, 'updated_at': when, 'deleted': False,
            'disk_format': 'raw', 'container_format': 'bare', 'owner': 'p1',
            'min_disk': 0, 'min_ram': 0, 'protected': False,
            'visibility': 'public', 'os_hidden': False}


def location_row(image_id, url, meta=None, status='active', when=None, raw_meta=None):
    when = when or now()
    return {'image_id': image_id, 'value': url,
            'meta_data': raw_meta if raw_meta is not None else json.dumps(meta or {}),
            'status': status, 'created_at': when, 'updated_at': when,
            'deleted': status != 'active', 'deleted_at': None if status == 'active' else when}


def insert(url, images, locations):
    """Insert image and location rows (dicts from the helpers above)."""
    eng = engine(url)
    try:
        with eng.begin() as conn:
            images_t, locations_t = tables(conn)
            if images:
                conn.execute(images_t.insert(), images)
            if locations:
                conn.execute(locations_t.insert(), locations)
    finally:
        eng.dispose()


def rows(url, image_id=None):
    """``{location id: (image_id, url, meta text, status, updated_at)}``."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            sql = 'SELECT id, image_id, value, meta_data, status, updated_at FROM image_locations'
            params = {}
            if image_id is not None:
                sql += ' WHERE image_id = :i'
                params['i'] = image_id
            return {r[0]: tuple(r[1:]) for r in conn.execute(sa.text(sql), params)}
    finally:
        eng.dispose()


def clear(url):
    eng = engine(url)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql('DELETE FROM image_locations')
            conn.exec_driver_sql('DELETE FROM image_properties')
            conn.exec_driver_sql('DELETE FROM image_tags')
            conn.exec_driver_sql('DELETE FROM image_members')
            conn.exec_driver_sql('DELETE FROM images')
    finally:
        eng.dispose()
