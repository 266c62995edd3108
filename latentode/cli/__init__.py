"""The command line (``latentode demo | fit | predict | evaluate | plot | train``) and the demo.

Only this layer sets process-wide state (torch's thread count, matplotlib's backend),
and only in :func:`main`. ``latentode --help`` imports neither torch nor Lightning.
"""

from .demo import run_demo
from .io import read_frame, write_frame
from .main import main

__all__ = ["main", "run_demo", "read_frame", "write_frame"]
