"""`python -m analytics ...`: the command line (see analytics/cli.py)."""
import sys

from .memory import return_freed_memory

return_freed_memory()  # before any file is read: a command's peak memory is its biggest step, not their sum

from .cli import main  # noqa: E402  (after the allocators are set)

sys.exit(main())
