"""`python -m softclock`: the same as the `softclock` command."""

from softclock.cli import main

raise SystemExit(main())
