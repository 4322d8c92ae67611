"""`python -m controller.cli`, as the tests and the container start `helmward`."""

import sys

from controller.cli import main

sys.exit(main())
