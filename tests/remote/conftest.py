"""Real hashserver and seamless-database processes on 127.0.0.1 (fixtures from tests/interop/)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "interop"))

from upstream_servers import (  # noqa: E402,F401 (fixtures)
    cache_root,
    executable,
    seamless_run,
    servers,
    start_database,
    start_hashserver,
)
