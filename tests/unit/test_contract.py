"""The public contract of DESIGN.md: names and parameters outside code uses.

Only names and parameter names/defaults are checked here; behaviour is
tested where each piece lives.
"""

import inspect

import pytest

import store_kit
from store_kit.catalog import Catalog
from store_kit.context import RequestContext
from store_kit.driver import Store
from store_kit.images import ImageService
from store_kit.registry import StoreRegistry
from store_kit.scrubber import Scrubber

CONTRACT = [
    (StoreRegistry, 'add', 'image_id, data, size=0, store=None, hashing_algo'),
    (StoreRegistry, 'get', 'url, store=None, offset=0, length=None'),
    (StoreRegistry, 'delete', 'url, store=None'),
    (StoreRegistry, 'get_size', 'url, store=None'),
    (StoreRegistry, 'resolve', 'url'),
    (StoreRegistry, 'backfill', 'locations'),
    (Store, 'add', "image_id, data, size=0, hashing_algo='sha512'"),
    (Store, 'get', 'url, offset=0, length=None'),
    (Store, 'delete', 'url'),
    (Store, 'get_size', 'url'),
    (Catalog, '__init__', 'url, resolver=None'),
    (Catalog, 'image_create', 'ctx, values'),
    (Catalog, 'image_update',
     'ctx, image_id, values, purge_props=False, from_state=None'),
    (Catalog, 'image_destroy', 'ctx, image_id'),
    (Catalog, 'image_get', 'ctx, image_id, force_show_deleted=False'),
    (Catalog, 'image_get_all',
     "ctx, filters=None, marker=None, limit=None, sort_key=None, "
     "sort_dir=None, member_status='accepted', is_public=None, "
     "admin_as_user=False, return_tag=False"),
    (Catalog, 'image_location_add', 'ctx, image_id, location'),
    (Catalog, 'image_location_update', 'ctx, image_id, location'),
    (Catalog, 'image_location_delete',
     'ctx, image_id, location_id, status, delete_time=None'),
    (Catalog, 'image_property_create', 'ctx, values'),
    (Catalog, 'image_property_delete', 'ctx, prop_ref, image_ref'),
    (Catalog, 'image_member_create', 'ctx, values'),
    (Catalog, 'image_member_update', 'ctx, memb_id, values'),
    (Catalog, 'image_member_delete', 'ctx, memb_id'),
    (Catalog, 'image_member_find',
     'ctx, image_id=None, member=None, status=None, include_deleted=False'),
    (Catalog, 'image_member_count', 'ctx, image_id'),
    (Catalog, 'image_tag_set_all', 'ctx, image_id, tags'),
    (Catalog, 'image_tag_create', 'ctx, image_id, value'),
    (Catalog, 'image_tag_delete', 'ctx, image_id, value'),
    (Catalog, 'image_tag_get_all', 'ctx, image_id'),
    (Catalog, 'is_image_mutable', 'ctx, image'),
    (Catalog, 'is_image_visible', 'ctx, image, status=None'),
    (Catalog, 'set_hard_dependencies', 'ctx, source_id, target_ids'),
    (Catalog, 'delete_hard_dependencies', 'ctx, source_id, target_id'),
    (Catalog, 'get_hard_dependencies', 'ctx, image_id'),
    (Catalog, 'get_hard_dependencies_children', 'ctx, image_id'),
    (ImageService, '__init__', 'db, registry, delayed_delete=False'),
    (ImageService, 'upload', 'ctx, data, size=0, store=None, **values'),
    (ImageService, 'download', 'ctx, image_id'),
    (ImageService, 'delete', 'ctx, image_id'),
    (ImageService, 'restore', 'ctx, image_id'),
    (Scrubber, '__init__', 'db, registry, scrub_time=0'),
    (Scrubber, 'run_once', ''),
]


def _params(func):
    sig = inspect.signature(func)
    return list(sig.parameters.values())[1:]        # drop self


@pytest.mark.parametrize('cls,name,spec', CONTRACT,
                         ids=['%s.%s' % (c.__name__, n) for c, n, _ in
                              CONTRACT])
def test_signature_starts_with_the_contract(cls, name, spec):
    params = _params(getattr(cls, name))
    wanted = [p.strip() for p in spec.split(',') if p.strip()]
    for want, have in zip(wanted, params):
        pname, _, default = want.partition('=')
        if pname.startswith('**'):
            assert have.kind is inspect.Parameter.VAR_KEYWORD
            continue
        assert have.name == pname
        if default:
            assert repr(have.default) == default or (
                default == 'None' and have.default is None)
    assert len(params) >= len(wanted)
    # anything beyond the contract is optional
    for extra in params[len(wanted):]:
        assert extra.default is not inspect.Parameter.empty or extra.kind in (
            inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)


def test_module_level_names():
    for name in ('register_opts', 'create_stores', 'get_location_map',
                 'StoreRegistry'):
        assert hasattr(store_kit, name)
    assert RequestContext(project_id='p1').owner == 'p1'
    for attr in ('name', 'driver_name', 'schemes', 'url_prefix',
                 'url_prefixes'):
        assert hasattr(Store, attr) or attr in ('name', 'url_prefixes')
