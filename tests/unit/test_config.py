"""Option values are checked once, in one place (store_kit.config): every bad
value is a BadStoreConfiguration naming section and option (issue 8,
finding 12)."""

import pytest

from store_kit import config
from store_kit import exceptions
from store_kit.catalog import Catalog
from tests.helpers import make_conf, make_registry


@pytest.mark.parametrize('text,section,option,reason', [
    ('[scrubber]\nbatch_size = many', 'scrubber', 'batch_size',
     "invalid value 'many': invalid literal for int() with base 10: 'many'"),
    ('[scrubber]\nwakeup_time = 0', 'scrubber', 'wakeup_time',
     "invalid value '0': Should be greater than or equal to 1"),
    ('[image_service]\ndelayed_delete = maybe', 'image_service',
     'delayed_delete', "invalid value 'maybe': Unexpected boolean value "
     "'maybe'"),
    ('[DEFAULT]\nenabled_backends = fast', 'DEFAULT', 'enabled_backends',
     "invalid value 'fast': Value should be NAME:VALUE pairs separated by \",\""),
])
def test_fixed_groups_name_section_option_and_oslo_reason_only(
        tmp_path, text, section, option, reason):
    conf = make_conf(tmp_path, text)
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        config.check_fixed_groups(conf)
    assert (err.value.section, err.value.option) == (section, option)
    assert err.value.reason == reason
    assert 'LocationInfo' not in str(err.value)


def test_registry_checks_enabled_backends_the_same_way(tmp_path):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_registry(tmp_path, '[DEFAULT]\nenabled_backends = fast\n')
    assert str(err.value) == ("[DEFAULT] enabled_backends: invalid value "
                              "'fast': Value should be NAME:VALUE pairs "
                              "separated by \",\"")


def test_secret_option_value_is_never_echoed(tmp_path):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_registry(tmp_path, """
            [DEFAULT]
            enabled_backends = web:http
            [store_kit]
            default_backend = web
            [web]
            http_proxy_information = hunter2
            """)
    assert (err.value.section, err.value.option) == ('web',
                                                     'http_proxy_information')
    assert 'hunter2' not in str(err.value)


@pytest.mark.parametrize('value', ['inf', 'nan', '-inf', '1e999'])
@pytest.mark.parametrize('option', ['s3_store_connect_timeout',
                                    's3_store_read_timeout'])
def test_float_options_must_be_finite(tmp_path, option, value):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        make_registry(tmp_path, """
            [DEFAULT]
            enabled_backends = cold:s3
            [store_kit]
            default_backend = cold
            [cold]
            s3_store_host = http://127.0.0.1:1
            s3_store_bucket = bkt
            s3_store_access_key = AK
            s3_store_secret_key = SK
            %s = %s
            """ % (option, value))
    assert (err.value.section, err.value.option) == ('cold', option)


@pytest.mark.parametrize('url,needle', [
    ('postgresql://admin:hunter2@db:abc/images', 'not a valid SQLAlchemy URL'),
    ('nonsense-with-hunter2', 'not a valid SQLAlchemy URL'),
    ('nodialect://admin:hunter2@db/images', "'nodialect'"),
    ('postgresql+pg8000://admin:hunter2@db/images', 'not installed'),
    ('mysql+pymysql://admin:hunter2@db:99999/images', 'out of range'),
])
def test_catalog_url_that_cannot_be_used_is_a_configuration_error(url, needle):
    with pytest.raises(exceptions.BadStoreConfiguration) as err:
        Catalog(url)
    assert (err.value.section, err.value.option) == ('catalog', 'connection')
    assert needle in str(err.value) and 'hunter2' not in str(err.value)
