"""`python -m zoo` runs the `zoo` command."""

import sys

from .cli import run

status = run()
# CPython's `-m` runner kills itself with SIGINT at exit when a KeyboardInterrupt once passed through code run from a
# string (a dataclass or namedtuple being built while torch loads), even one zoo caught and answered with exit 130.
# Running a string that ends well clears that flag, so the status is the one main() returned.
exec("")
sys.exit(status)
