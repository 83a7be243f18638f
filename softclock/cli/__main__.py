import sys

from softclock.cli.main import main

sys.exit(main())
