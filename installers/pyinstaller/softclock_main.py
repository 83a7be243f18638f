"""The bundle's entry point: the same as the ``softclock`` console script."""

import multiprocessing
import sys

from softclock.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
