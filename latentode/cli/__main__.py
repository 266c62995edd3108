"""``python -m latentode.cli``."""

import sys

from .main import main

sys.exit(main())
