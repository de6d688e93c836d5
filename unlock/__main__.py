"""`python -m unlock ...` is `faceunlock ...`."""

import sys

from faceunlock.unlock.cli import main

sys.exit(main())
