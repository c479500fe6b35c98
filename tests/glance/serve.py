"""Child process of :class:`tests.glance.server.GlanceServer`: serve glance's
WSGI app (read from ``$OS_GLANCE_CONFIG_DIR``) on 127.0.0.1:PORT."""

import sys


def main(port):
    from werkzeug import serving
    from glance.wsgi import api
    serving.run_simple('127.0.0.1', port, api.application, threaded=True,
                       use_reloader=False)


if __name__ == '__main__':
    main(int(sys.argv[1]))
