"""Settings resolved from the environment and the config files.

Nothing is read at import time. `get_settings()` resolves once, on first call, and caches a
frozen `Settings`; `init`, `set_stage`, `select_record`, `set_nparallel` and a change of
SEAMLESS_CACHE / XDG_CACHE_HOME / HOME invalidate it and bump `settings_generation()`.

Config files: `seamless.yaml` then `seamless.profile.yaml` in the workdir, each a YAML list of
bare strings or single-key mappings. `inherit_from_parent` in either file makes the files of
`..` apply first (recursively). Storage roots: `<root>/<project>[/<subproject>][/STAGE-<stage>]`.
For a `type: local` cluster, `hashserver.bufferdir` and `database.database_dir` are used as
embedded roots (with the same project sub-path), with no server in between.
SEAMLESS_CACHE only chooses the embedded directory; config files still apply (bug 28).

This module is the only one that reads environment variables for settings; the
accessors at the end of the file read them when called, never at import time:
`cache_dir()`, `runtime_dir()`, `queue_file_env()`, `debug_env()`, `shm_threshold()`,
`worker_throttle()`, `worker_max_retries()`, `compute_threads()`, `transfer_limit(name)`,
`conda_root()`, `keep_workspace()`, `dask_scheduler()`. (seamless-mode-rewrite, on every Enter of
the shell, reads SEAMLESS_MODE_SKIP itself: importing this module would double its start-up time.)
"""

import glob
import json
import os
import threading
from ._util import field, record_class as dataclass

from .errors import ConfigError

TOPLEVEL = "__TOPLEVEL__"
EXECUTION_MODES = ("process", "spawn", "remote")
CONFIG_FILES = ("seamless.yaml", "seamless.profile.yaml")
SETTINGS_ENV = ("SEAMLESS_CACHE", "XDG_CACHE_HOME", "HOME", "SEAMLESS_REMOTE_CLIENTS")  # Settings depend on these


@dataclass(frozen=True)
class Settings:
    workdir: str
    project: str = TOPLEVEL
    subproject: str | None = None
    stage: str | None = None
    substage: str | None = None
    persistent: bool = True
    record: bool = False
    execution: str = "process"
    nparallel: int | None = None
    queue: str | None = None
    node: str | None = None
    workers: int | None = None
    buffer_dirs: tuple = ()
    database_paths: tuple = ()
    readonly_buffer_dirs: tuple = ()
    hashserver_urls: tuple = ()
    database_urls: tuple = ()
    readonly_hashserver_urls: tuple = ()
    readonly_database_urls: tuple = ()
    cluster: str | None = None
    jobserver_url: str | None = None  # `remote: jobserver`: the cluster's jobserver.url
    config_files: tuple = field(default=(), compare=False)


_lock = threading.RLock()
_state: dict = {}
_generation = 0


def _reset() -> None:
    """Forget everything: workdir, overrides and the cached settings."""
    global _generation
    with _lock:
        _state.clear()
        _state.update(workdir=None, project=None, subproject=None, stage=None, substage=None,
                      record=None, nparallel=None, prog="seamless", settings=None, env_key=None,
                      spawned_workers=None)
        _generation += 1


_reset()


def _invalidate() -> None:
    global _generation
    _state["settings"] = None
    _generation += 1


def settings_generation() -> int:
    """A number that changes whenever the settings may have changed."""
    get_settings()
    return _generation


def init(workdir=None, *, project=None, subproject=None, stage=None, substage=None,
         prog="seamless-run") -> Settings:
    """Choose the workdir (default: cwd) and replace all overrides (project, subproject, stage);
    resolve now, so that config errors surface here."""
    with _lock:
        _state["workdir"] = os.path.abspath(workdir if workdir is not None else os.getcwd())
        for key, value in (("project", project), ("subproject", subproject)):
            if value is not None:
                _check_name(key, value, "command line")
            _state[key] = value
        _state["stage"], _state["substage"] = stage, substage
        _state["prog"] = prog
        _invalidate()
        return get_settings()


def set_stage(stage, substage=None) -> None:
    with _lock:
        _state["stage"], _state["substage"] = stage, substage
        _invalidate()


def select_record(flag) -> None:
    """True/False overrides the config `record`; None returns to the config value."""
    if flag is not None and not isinstance(flag, bool):
        raise TypeError("select_record expects True, False or None")
    with _lock:
        _state["record"] = flag
        _invalidate()


def set_nparallel(n) -> None:
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError("nparallel must be a positive integer")
    with _lock:
        _state["nparallel"] = n
        _invalidate()


def note_spawned_workers(n) -> None:
    """Record how many pool workers run (None: none), the default bound of parallel()."""
    with _lock:
        _state["spawned_workers"] = n


def get_nparallel() -> int:
    """The default in-flight bound of parallel(): set_nparallel, config, workers, cpu count."""
    settings = get_settings()
    for value in (_state["nparallel"], settings.nparallel, _state.get("spawned_workers"),
                  settings.workers):
        if value:
            return value
    return os.cpu_count() or 1


def get_settings() -> Settings:
    with _lock:
        env_key = tuple(os.environ.get(k) for k in SETTINGS_ENV)
        if _state["settings"] is not None and _state["env_key"] == env_key:
            return _state["settings"]
        if _state["workdir"] is None:
            _state["workdir"] = os.getcwd()
        settings = _resolve(_state["workdir"])
        global _generation
        if _state["settings"] is not None:
            _generation += 1
        _state["settings"], _state["env_key"] = settings, env_key
        return settings


# ---------------------------------------------------------------- resolution


def _cache_root() -> str:
    """The embedded storage root: $SEAMLESS_CACHE, else cache_dir()."""
    root = os.environ.get("SEAMLESS_CACHE")
    if root:
        return os.path.abspath(os.path.expanduser(root))
    return cache_dir()


def cache_dir(*parts: str) -> str:
    """${XDG_CACHE_HOME:-$HOME/.cache}/seamless[/parts...], absolute: the stat memo, the parse
    memo and (without SEAMLESS_CACHE) the embedded storage live here."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if not xdg:
        xdg = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(xdg), "seamless", *parts)


def _storage_subpath(project, subproject, stage) -> str:
    parts = [project or TOPLEVEL]
    if subproject:
        parts.append(subproject)
    if stage:
        parts.append("STAGE-" + stage)
    return os.path.join(*parts)


def _resolve(workdir: str) -> Settings:
    conf = {"stage": _state["stage"], "substage": _state["substage"], "clusters": {}}
    files = []
    for path, commands in _config_commands(workdir, set()):
        files.append(path)
        _apply_commands(conf, commands, path)
    for key in ("project", "subproject"):
        if _state[key] is not None:
            conf[key] = _state[key]
    if _state["record"] is not None:
        conf["record"] = _state["record"]
    if conf["stage"] is not None:
        _check_name("stage", conf["stage"], "stage")
    sub = _storage_subpath(conf.get("project"), conf.get("subproject"), conf["stage"])
    storage = _storage_locations(conf, sub)
    return Settings(
        workdir=workdir, project=conf.get("project") or TOPLEVEL,
        subproject=conf.get("subproject"), stage=conf["stage"], substage=conf["substage"],
        persistent=conf.get("persistent", True), record=conf.get("record", False),
        execution=conf.get("execution", "process"), nparallel=conf.get("nparallel"),
        queue=conf.get("queue"), node=conf.get("node"), workers=storage.pop("workers"),
        cluster=conf.get("cluster"), jobserver_url=_jobserver_url(conf), config_files=tuple(files), **storage)


def _storage_locations(conf, sub) -> dict:
    clients = os.environ.get("SEAMLESS_REMOTE_CLIENTS")
    if clients:
        return _remote_clients(clients, sub)
    buffer_dirs, db_paths, hs_urls, db_urls, workers = [], [], [], [], None
    if os.environ.get("SEAMLESS_CACHE") or not conf.get("cluster"):
        embedded = os.path.join(_cache_root(), sub)
        buffer_dirs.append(embedded)
        db_paths.append(os.path.join(embedded, "seamless.db"))
    if conf.get("cluster"):
        cl = _cluster_storage(conf, sub)
        buffer_dirs += cl["buffer_dirs"]
        db_paths += cl["database_paths"]
        hs_urls += cl["hashserver_urls"]
        db_urls += cl["database_urls"]
        workers = cl["workers"]
    return {"buffer_dirs": tuple(dict.fromkeys(buffer_dirs)),
            "database_paths": tuple(dict.fromkeys(db_paths)),
            "readonly_buffer_dirs": (), "hashserver_urls": tuple(hs_urls),
            "database_urls": tuple(db_urls), "workers": workers}


def _remote_clients(text: str, sub: str) -> dict:
    """SEAMLESS_REMOTE_CLIENTS (upstream's JSON shape): exactly those stores, with the embedded
    store of SEAMLESS_CACHE (when set) in front."""
    where = "SEAMLESS_REMOTE_CLIENTS"
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: invalid JSON ({exc})") from None
    if not isinstance(spec, dict) or set(spec) - {"database", "buffer"}:
        raise ConfigError(f"{where}: expected an object with 'database' and/or 'buffer' lists")
    out = {"buffer_dirs": [], "database_paths": [], "readonly_buffer_dirs": [], "hashserver_urls": [],
           "database_urls": [], "readonly_hashserver_urls": [], "readonly_database_urls": [], "workers": None}
    if os.environ.get("SEAMLESS_CACHE"):
        embedded = os.path.join(_cache_root(), sub)
        out["buffer_dirs"].append(embedded)
        out["database_paths"].append(os.path.join(embedded, "seamless.db"))
    for kind in ("database", "buffer"):
        entries = spec.get(kind) or []
        if not isinstance(entries, list):
            raise ConfigError(f"{where}: '{kind}' must be a list")
        for entry in entries:
            _remote_client(out, kind, entry, where)
    return {key: tuple(dict.fromkeys(value)) if isinstance(value, list) else value
            for key, value in out.items()}


def _remote_client(out: dict, kind: str, entry, where: str) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: each '{kind}' entry must be an object")
    url = entry.get("remote_url") or entry.get("url")
    directory = entry.get("remote_directory") or entry.get("directory")
    readonly = entry.get("readonly", True)
    if not isinstance(readonly, bool):
        raise ConfigError(f"{where}: 'readonly' must be true or false")
    if kind == "buffer" and directory and not url:
        out["readonly_buffer_dirs"].append(_expand(directory))
        return
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{where}: a '{kind}' entry needs a url")
    key = ("readonly_" if readonly else "") + ("database_urls" if kind == "database" else "hashserver_urls")
    out[key].append(_with_scheme(url.strip()))


# ---------------------------------------------------------------- config files


def _load_yaml(path: str):
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: invalid YAML ({first})") from None


def _load_yaml_list(path: str) -> list:
    data = _load_yaml(path)
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(f"{path}: unknown command {str(data)[:60]!r} (a list of commands is expected)")
    return data


def _config_commands(directory: str, seen: set) -> list:
    """[(path, items)] to apply in order: the parent's files first when inherited."""
    directory = os.path.realpath(directory)
    if directory in seen:
        return []
    seen.add(directory)
    own = []
    for name in CONFIG_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            own.append((path, _load_yaml_list(path)))
    inherit = any(_command_name(item) == "inherit_from_parent" for _, items in own for item in items)
    parent = os.path.dirname(directory)
    if inherit and parent != directory:
        return _config_commands(parent, seen) + own
    return own


def _command_name(item):
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and len(item) == 1:
        return next(iter(item))
    return None


def _apply_commands(conf: dict, items: list, path: str) -> None:
    for item in items:
        name = _command_name(item)
        if not isinstance(name, str):
            raise ConfigError(f"{path}: unknown command {str(item)[:60]!r}")
        value = item[name] if isinstance(item, dict) else None
        if name.startswith("stage ") and name[6:].strip():
            if not isinstance(value, list):
                raise ConfigError(f"{path}: '{name}' must contain a list of commands")
            if conf["stage"] == name[6:].strip():
                _apply_commands(conf, value, path)
            continue
        handler = _HANDLERS.get(name)
        if handler is None:
            raise ConfigError(f"{path}: unknown command {name!r}")
        handler(conf, value, path, name)


def _set_name(conf, value, path, name):
    if value is None:
        conf[name] = None
        return
    _check_name(name, value, path)
    conf[name] = value


def _check_name(kind, value, where):
    bad = not isinstance(value, str) or not value.strip() or "--" in value or "STAGE-" in value
    bad = bad or (kind != "subproject" and "/" in value)
    if not bad and kind == "subproject":
        bad = any(part in ("", ".", "..") for part in value.split("/"))
    if bad:
        raise ConfigError(f"{where}: invalid {kind} name {value!r}")


def _set_bool(conf, value, path, name):
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: '{name}' must be true or false")
    conf[name] = value


def _set_execution(conf, value, path, name):
    if value not in EXECUTION_MODES:
        raise ConfigError(f"{path}: execution must be one of {', '.join(EXECUTION_MODES)}")
    conf["execution"] = value


def _set_remote(conf, value, path, name):
    conf["remote"], conf["remote_file"] = value, path
    if value == "jobserver":
        conf["execution"] = "remote"
    elif value == "daskserver":
        conf["execution"] = "remote"
    elif value is not None:
        raise ConfigError(f"{path}: remote must be daskserver, jobserver or null")


def _set_nparallel(conf, value, path, name):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{path}: nparallel must be a positive integer")
    conf["nparallel"] = value


def _set_text(conf, value, path, name):
    if value is not None and not isinstance(value, (str, int)):
        raise ConfigError(f"{path}: '{name}' must be a string")
    conf[name] = None if value is None else str(value)


def _set_cluster(conf, value, path, name):
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: cluster must be a name or null")
    conf["cluster"], conf["cluster_file"] = value, path


def _define_clusters(conf, value, path, name):
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: clusters must be a mapping of cluster names")
    conf["clusters"].update(value)


_HANDLERS = {
    "project": _set_name, "subproject": _set_name, "persistent": _set_bool, "record": _set_bool,
    "execution": _set_execution, "remote": _set_remote, "nparallel": _set_nparallel,
    "queue": _set_text, "node": _set_text, "cluster": _set_cluster, "clusters": _define_clusters,
    "inherit_from_parent": lambda conf, value, path, name: None,
}


# ---------------------------------------------------------------- clusters


def _home_clusters() -> dict:
    """Cluster definitions from ~/.seamless/clusters.yaml and ~/.seamless/clusters/*.yaml."""
    base = os.path.join(os.path.expanduser("~"), ".seamless")
    paths = [os.path.join(base, "clusters.yaml")] + sorted(glob.glob(os.path.join(base, "clusters", "*.yaml")))
    clusters = {}
    for path in filter(os.path.isfile, paths):
        data = _load_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a mapping of cluster definitions is expected")
        if "type" in data or "frontends" in data:  # one cluster per file, named after the file
            data = {os.path.splitext(os.path.basename(path))[0]: data}
        clusters.update(data)
    return clusters


def _cluster_storage(conf, sub) -> dict:
    name, where = conf["cluster"], conf.get("cluster_file", "config")
    clusters = _home_clusters()
    clusters.update(conf["clusters"])
    cluster = clusters.get(name)
    if not isinstance(cluster, dict):
        raise ConfigError(f"{where}: unknown cluster {name!r}")
    out = {"buffer_dirs": [], "database_paths": [], "hashserver_urls": [], "database_urls": []}
    local = cluster.get("type") == "local"
    for frontend in cluster.get("frontends") or []:
        if not isinstance(frontend, dict):
            raise ConfigError(f"{where}: cluster {name!r}: each frontend must be a mapping")
        hs, db = frontend.get("hashserver") or {}, frontend.get("database") or {}
        if local and hs.get("bufferdir"):
            out["buffer_dirs"].append(os.path.join(_expand(hs["bufferdir"]), sub))
        if local and db.get("database_dir"):
            out["database_paths"].append(os.path.join(_expand(db["database_dir"]), sub, "seamless.db"))
        if hs.get("url"):
            out["hashserver_urls"].append(_with_scheme(hs["url"]))
        if db.get("url"):
            out["database_urls"].append(_with_scheme(db["url"]))
    if not (out["buffer_dirs"] or out["hashserver_urls"]) or not (out["database_paths"] or out["database_urls"]):
        raise ConfigError(f"{where}: cluster {name!r} has no usable buffer and database storage")
    workers = cluster.get("workers")
    out["workers"] = workers if isinstance(workers, int) and workers > 0 else None
    return out


def _jobserver_url(conf) -> str | None:
    """`remote: jobserver` with `execution: remote`: the jobserver.url of the selected cluster's
    first frontend that has one (ConfigError when there is none)."""
    if conf.get("remote") != "jobserver" or conf.get("execution") != "remote":
        return None
    where = conf.get("remote_file", "config")
    clusters = _home_clusters()
    clusters.update(conf["clusters"])
    cluster = clusters.get(conf.get("cluster")) if conf.get("cluster") else None
    frontends = cluster.get("frontends") if isinstance(cluster, dict) else None
    for frontend in frontends if isinstance(frontends, list) else []:
        jobserver = frontend.get("jobserver") if isinstance(frontend, dict) else None
        if isinstance(jobserver, dict) and jobserver.get("url"):
            return _with_scheme(jobserver["url"])
    raise ConfigError(f"{where}: remote: jobserver needs a cluster with a jobserver.url")


def _expand(path) -> str:
    return os.path.abspath(os.path.expanduser(str(path)))


def _with_scheme(url) -> str:
    url = str(url)
    return url if "://" in url else "http://" + url


# ---------------------------------------------------------------- other environment variables

TRANSFER_LIMITS = ("SEAMLESS_MAX_DOWNLOAD_SIZE", "SEAMLESS_MAX_DOWNLOAD_FILES",
                   "SEAMLESS_MAX_UPLOAD_SIZE", "SEAMLESS_MAX_UPLOAD_FILES")
DEFAULT_SHM_THRESHOLD = 64 * 1024


def runtime_dir() -> str:
    """Where per-user run-time state (the cancel registry) lives: $XDG_RUNTIME_DIR, else
    ${XDG_CACHE_HOME:-~/.cache}/seamless. Never the shared temporary directory, where another
    local user could pre-create it."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return base
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "seamless")


def queue_file_env() -> str | None:
    """$SEAMLESS_QUEUE_FILE, or None when unset or empty."""
    return os.environ.get("SEAMLESS_QUEUE_FILE") or None


def debug_env() -> bool:
    """SEAMLESS_DEBUG=1: every CLI shows our traceback with its error line."""
    return os.environ.get("SEAMLESS_DEBUG") == "1"


def _positive_int(name: str, default: int, minimum: int = 1) -> int:
    """Integer variable `name`, at least `minimum`; unset, empty or not a number: `default`."""
    try:
        return max(minimum, int(os.environ.get(name) or default))
    except ValueError:
        return default


def shm_threshold() -> int:
    """SEAMLESS_SHM_THRESHOLD (bytes, default 64 KiB): pool buffers of this size or more go through shared memory."""
    return _positive_int("SEAMLESS_SHM_THRESHOLD", DEFAULT_SHM_THRESHOLD)


def worker_throttle() -> int:
    """SEAMLESS_WORKER_TRANSFORMATION_THROTTLE (default 3): slots per pool worker."""
    return _positive_int("SEAMLESS_WORKER_TRANSFORMATION_THROTTLE", 3)


def worker_max_retries() -> int:
    """SEAMLESS_WORKER_MAX_RETRIES (default 2, may be 0): retries of a transformation whose worker crashed."""
    return _positive_int("SEAMLESS_WORKER_MAX_RETRIES", 2, minimum=0)


def worker_profile_dir() -> str | None:
    """SEAMLESS_BENCH_WORKER_PROFILE (bench/pool.py --profile): the directory where each pool worker
    writes the cProfile stats of all its threads when it stops; unset: no profiling."""
    return os.environ.get("SEAMLESS_BENCH_WORKER_PROFILE") or None


def compute_threads() -> int:
    """SEAMLESS_COMPUTE_THREADS (default min(32, cpu + 4)): threads that hash many files."""
    value = os.environ.get("SEAMLESS_COMPUTE_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(32, (os.cpu_count() or 1) + 4)


def transfer_limit(name: str) -> str | None:
    """The raw text of one of TRANSFER_LIMITS (None when unset or blank); the caller parses it."""
    if name not in TRANSFER_LIMITS:
        raise KeyError(name)
    value = os.environ.get(name)
    return value if value is not None and value.strip() else None


def conda_root() -> str | None:
    """$CONDA_ROOT, or None (then `conda info --base` is asked)."""
    return os.environ.get("CONDA_ROOT") or None


def keep_workspace() -> bool:
    """SEAMLESS_KEEP_WORKSPACE=1: a bash job's workspace is kept (and its path printed)."""
    return os.environ.get("SEAMLESS_KEEP_WORKSPACE") == "1"


def dask_scheduler() -> str | None:
    """$SEAMLESS_DASK_SCHEDULER (a Dask scheduler address, "tcp://host:port"), or None when unset or blank."""
    value = os.environ.get("SEAMLESS_DASK_SCHEDULER", "").strip()
    return value or None
