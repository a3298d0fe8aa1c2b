"""``python -m hipcam``: the same command line as the ``hipcam`` script."""

import sys

from hipcam.commands.cli import main

sys.exit(main())
