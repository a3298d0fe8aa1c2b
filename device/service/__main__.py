"""`python -m hipcam.service` == `hipcam serve` (until the CLI wires it)."""

import sys

from hipcam.service.serve import main

if __name__ == "__main__":
    sys.exit(main())
