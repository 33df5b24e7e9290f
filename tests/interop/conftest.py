"""The server fixtures live in upstream_servers.py, shared with tests/remote/."""

from upstream_servers import (  # noqa: F401 (fixtures)
    cache_root,
    seamless_run,
    servers,
    start_database,
    start_hashserver,
)
