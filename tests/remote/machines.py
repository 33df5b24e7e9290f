"""Two "machines" in one test: each a HOME, a local cache and a working directory of its own,
sharing nothing but the servers named in SEAMLESS_REMOTE_CLIENTS."""

import json
import os
import subprocess
import sys

from upstream_servers import executable

HELLO_CS = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def clients(hs_urls, db_urls, *, readonly=False) -> str:
    """SEAMLESS_REMOTE_CLIENTS for these servers (a URL or a list of URLs each)."""
    def entries(urls):
        return [{"url": u, "readonly": readonly} for u in ([urls] if isinstance(urls, str) else urls)]

    return json.dumps({"buffer": entries(hs_urls), "database": entries(db_urls)})


class Machine:
    """A HOME, a local cache and a working directory of its own; the servers are shared."""

    def __init__(self, base, name, remote_clients, *, local_cache=True):
        self.root = base / name
        self.work = self.root / "work"
        self.work.mkdir(parents=True)
        (self.root / "home").mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SEAMLESS_")}
        self.env["HOME"] = str(self.root / "home")
        if local_cache:
            self.env["SEAMLESS_CACHE"] = str(self.root / "cache")
        if remote_clients:
            self.env["SEAMLESS_REMOTE_CLIENTS"] = remote_clients

    def run(self, prog, *args, env=None):
        return subprocess.run([executable(prog), *args], cwd=self.work, env={**self.env, **(env or {})},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    def run_python(self, script):
        return subprocess.run([sys.executable, script], cwd=self.work, env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def servers_pair(tmp_path, start_hashserver, start_database):
    """(hashserver URL, database URL, the hashserver's directory), both servers freshly started."""
    hs_dir = tmp_path / "hs"
    hs_dir.mkdir()
    return start_hashserver(hs_dir), start_database(tmp_path / "shared.db"), hs_dir


def two_machines(tmp_path, remote_clients) -> tuple:
    return Machine(tmp_path, "a", remote_clients), Machine(tmp_path, "b", remote_clients)


def run_script_on(machines, name, script) -> list:
    """Write `script` as `name` on each machine, run it there in turn; the stdouts."""
    outputs = []
    for machine in machines:
        (machine.work / name).write_text(script)
        outputs.append(machine.run_python(name).stdout)
    return outputs
