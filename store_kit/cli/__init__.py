"""``store-kit``: the operator's command (one module per command group).

``base`` holds what every command shares (configuration, output, the
request context); ``images``, ``stores``, ``maintenance`` hold the commands
of their group; ``main`` builds the parser and maps errors to exit
statuses.  Exit status: 0 done, 1 the operation failed, 2 bad usage or
configuration; errors are one line on stderr (a traceback only with
``--debug``) and never carry a secret.
"""

from store_kit.cli.main import main

__all__ = ['main']
