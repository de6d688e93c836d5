"""`python -m unlock ...` is `faceunlock ...`."""

import sys

from unlock.cli import main

sys.exit(main())
