"""The ``store-kit`` entry point: the parser (built from each command
module's ``COMMANDS`` and ``GROUPS``) and the mapping of errors to exit
statuses and one-line messages."""

import argparse
import os
import re
import sys
import traceback

from oslo_config import cfg

from store_kit import exceptions
from store_kit.cli import copy, glance, images, maintenance, stores
from store_kit.cli.base import PROG, Env, UsageError, one_line, safe_db_url

#: Command modules, in the order ``--help`` lists their commands.
MODULES = (stores, images, copy, maintenance, glance)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError('%s: %s (see `%s --help`)' % (self.prog, message, self.prog))


def _global_options(parser, suppress):
    default = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group('global options')
    g.add_argument('--config-file', action='append', default=default(None),
                   metavar='PATH', help='config file (repeatable)')
    g.add_argument('--config-dir', action='append', default=default(None),
                   metavar='DIR', help='directory of *.conf files (repeatable)')
    g.add_argument('--project', default=default(os.environ.get(
        'STORE_KIT_PROJECT', 'default')), help='project of the request context '
        '(default $STORE_KIT_PROJECT or "default")')
    g.add_argument('--admin', action='store_true', default=default(False),
                   help='act as an admin (visibility rules lifted)')
    g.add_argument('--format', choices=('table', 'json'), default=default('table'),
                   help='output format of listings')
    g.add_argument('--debug', action='store_true', default=default(False),
                   help='show tracebacks')


def _add_commands(sub, commands, common):
    for name, fn, help_, arguments in commands:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        for names, kwargs in arguments:
            p.add_argument(*names, **kwargs)
        p.set_defaults(func=fn)


def build_parser():
    parser = _Parser(prog=PROG, description='Operate store_kit stores and catalog.')
    _global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=_Parser)
    sub.required = True
    for module in MODULES:
        _add_commands(sub, module.COMMANDS, common)
    for module in MODULES:
        for name, help_, commands in getattr(module, 'GROUPS', ()):
            group = sub.add_parser(name, help=help_, description=help_, parents=[common])
            inner = group.add_subparsers(
                dest='%s_command' % name, parser_class=_Parser,
                metavar='{%s}' % ','.join(c[0] for c in commands))
            inner.required = True
            _add_commands(inner, commands, common)
    return parser


def _fail(args, message, status):
    if getattr(args, 'debug', False) or '--debug' in sys.argv:
        traceback.print_exc()
    print('%s: error: %s' % (PROG, message), file=sys.stderr)
    return status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = None
    env = None
    try:
        args = build_parser().parse_args(argv)
        env = Env(args)
        status = args.func(env, args)
        return status or 0
    except UsageError as exc:
        return _fail(args, str(exc), 2)
    except exceptions.BadStoreConfiguration as exc:
        return _fail(args, 'configuration: %s' % exc, 2)
    except cfg.ConfigFileParseError as exc:
        # oslo quotes the offending line, which may hold a secret
        line = re.search(r':(\d+),', exc.msg or '')
        return _fail(args, 'configuration: cannot parse %s%s (expected '
                     '"option = value"; the line is not shown, it may hold a '
                     'secret)' % (exc.config_file,
                                  ' at line %s' % line.group(1) if line else ''),
                     2)
    except cfg.Error as exc:
        return _fail(args, 'configuration: %s' % one_line(exc), 2)
    except exceptions.StoreKitError as exc:
        return _fail(args, one_line(exc), 1)
    except _sqlalchemy_error() as exc:
        url = env.conf.catalog.connection if env is not None else None
        return _fail(args, 'catalog database %s failed: %s' % (
            safe_db_url(url) if url else '', one_line(getattr(exc, 'orig', exc))), 1)
    except BrokenPipeError:
        # the reader went away (`store-kit image-list | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        return _fail(args, one_line(exc), 1)
    except KeyboardInterrupt:
        return _fail(args, 'interrupted', 130)
    finally:
        if env is not None:
            env.close()


def _sqlalchemy_error():
    """SQLAlchemyError if SQLAlchemy is loaded (errors not yet translated,
    e.g. connecting), else a class nothing raises."""
    sa_exc = sys.modules.get('sqlalchemy.exc')
    return sa_exc.SQLAlchemyError if sa_exc is not None else _Never


class _Never(Exception):
    pass
