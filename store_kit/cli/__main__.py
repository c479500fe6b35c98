"""``python -m store_kit.cli``: the same as the ``store-kit`` command."""

import sys

from store_kit.cli.main import main

sys.exit(main())
