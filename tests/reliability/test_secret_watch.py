"""The suite's secret watch itself: it sees DEBUG records of the libraries
store_kit drives and would flag a leak."""

import logging

from tests.reliability import conftest


def test_the_watch_flags_secrets_and_url_credentials_only():
    assert conftest.find_leaks([
        'botocore: Authorization: AWS4 Credential=AKIAFAULTSUITE000001/x',
        'store_kit: cannot reach http://user:hunter2@host/x',
        'store_kit: cannot reach http://***@host/x?...',
        'store_kit: s3://127.0.0.1:9000/images/abc not found',
    ]) == ['botocore: Authorization: AWS4 Credential=AKIAFAULTSUITE000001/x',
           'store_kit: cannot reach http://user:hunter2@host/x']


def test_debug_records_of_third_party_loggers_are_seen():
    recorder = [h for h in logging.getLogger().handlers
                if isinstance(h, conftest._Recorder)]
    assert len(recorder) == 1
    logging.getLogger('botocore.endpoint').debug('made a request')
    assert recorder[0].texts[-1] == 'botocore.endpoint: made a request'
