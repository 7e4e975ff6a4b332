"""Start runq without `site`: `python -I -S /path/to/runq/fastpath.py ARGS`.

The hook and the commands it rewrites run on every agent Bash call, so they skip the
interpreter's site processing (a pyenv or .pth-heavy site costs tens of milliseconds here).
The package's parent directory goes on sys.path by hand instead.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from runq.client.main import main  # noqa: E402

sys.exit(main())
