"""Benchmark: transfers through a real hashserver on 127.0.0.1 (run by hand, not part of the tests).

    python bench/remote.py [SIZE] [NFILES]     SIZE: big buffer, bytes or K/M/G (default 1G);
                                               NFILES: small files (default 10000)

Starts `hashserver DIR --writable` (installed next to this Python) and measures, best of 2:
  * one big buffer: our upload (streamed PUT) and download (streamed, verified into a file)
    next to `curl -T` / `curl -o` of the same bytes; peak RSS of our side in another process
  * NFILES small files: `seamless-upload DIR` and `seamless-download DIR` with SEAMLESS_REMOTE_CLIENTS
    next to a plain loop of one PUT / one GET per file (urllib3, one connection reused)
Prints throughputs and ratios. Targets: >= 0.8x curl; small files >= 20x the loop.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time

from identity import make_file, parse_size  # bench/identity.py (python puts bench/ on sys.path)

SCRIPTS = sysconfig.get_path("scripts")
REPEAT = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_hashserver(directory: str) -> tuple:
    port = free_port()
    proc = subprocess.Popen([os.path.join(SCRIPTS, "hashserver"), directory, "--writable",
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if subprocess.run(["curl", "-sf", url + "/healthcheck"], capture_output=True).returncode == 0:
            return proc, url
        time.sleep(0.1)
    proc.kill()
    sys.exit("hashserver did not start")


def best(func, reset=None) -> float:
    times = []
    for _ in range(REPEAT):
        if reset:
            reset()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def sha_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


OUR_SIDE = """
import resource, sys
from seamless_transformer.store.remote import BufferServer
server, cs, src, dst = BufferServer(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if src != "-":
    server.put_file(cs, src)
else:
    with open(dst, "wb") as f:
        assert server.download(cs, f.write)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def big_buffer(tmp, url, hs_dir, size) -> None:
    src, dst = os.path.join(tmp, "big.bin"), os.path.join(tmp, "big.out")
    make_file(src, size)
    cs = sha_file(src)
    stored = os.path.join(hs_dir, cs[:2], cs)

    def unstore():
        for name in (stored, dst):
            if os.path.exists(name):
                os.chmod(name, 0o644)
                os.unlink(name)

    peak = []

    def ours(direction):
        out = subprocess.run([sys.executable, "-c", OUR_SIDE, url, cs, src if direction == "up" else "-", dst],
                             capture_output=True, text=True, check=True)
        peak.append(int(out.stdout))

    curl_up = best(lambda: subprocess.run(["curl", "-sf", "-o", os.devnull, "-T", src, f"{url}/{cs}"], check=True), unstore)
    ours_up = best(lambda: ours("up"), unstore)
    curl_down = best(lambda: subprocess.run(["curl", "-sf", "-o", dst, f"{url}/{cs}"], check=True))
    ours_down = best(lambda: ours("down"))
    mib = size / (1 << 20)
    print(f"big buffer, {mib:.0f} MiB:")
    print(f"  upload    curl {mib / curl_up:8.1f} MiB/s   ours {mib / ours_up:8.1f} MiB/s   ratio {curl_up / ours_up:.2f}x")
    print(f"  download  curl {mib / curl_down:8.1f} MiB/s   ours {mib / ours_down:8.1f} MiB/s   "
          f"ratio {curl_down / ours_down:.2f}x")
    print(f"  our peak RSS {max(peak)} MiB")


def small_files(tmp, url, hs_dir, nfiles) -> None:
    import urllib3

    data_dir = os.path.join(tmp, "small")
    os.makedirs(data_dir)
    payloads = {}
    for i in range(nfiles):
        body = f"small file {i}\n".encode() * 8
        with open(os.path.join(data_dir, f"f{i:05d}.txt"), "wb") as f:
            f.write(body)
        payloads[hashlib.sha256(body).hexdigest()] = body
    env = dict(os.environ, SEAMLESS_CACHE=os.path.join(tmp, "cache"),
               SEAMLESS_REMOTE_CLIENTS=json.dumps({"buffer": [{"url": url, "readonly": False}]}))
    http = urllib3.PoolManager(maxsize=1)

    def wipe():
        shutil.rmtree(os.path.join(tmp, "cache"), ignore_errors=True)
        for name in os.listdir(hs_dir):
            if len(name) == 2:
                shutil.rmtree(os.path.join(hs_dir, name))

    def loop_put():
        for cs, body in payloads.items():
            assert http.request("PUT", f"{url}/{cs}", body=body).status in (200, 201)

    def loop_get():
        for cs in payloads:
            assert http.request("GET", f"{url}/{cs}").status == 200

    def ours(*argv):
        subprocess.run([os.path.join(SCRIPTS, argv[0]), *argv[1:]], cwd=tmp, env=env, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def fresh_download():
        shutil.rmtree(os.path.join(tmp, "cache"), ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)

    loop_up = best(loop_put, wipe)
    ours_up = best(lambda: ours("seamless-upload", "-y", "small"), wipe)
    loop_down = best(loop_get)
    ours_down = best(lambda: ours("seamless-download", "-y", "small"), fresh_download)
    print(f"{nfiles} small files:")
    print(f"  upload    one PUT per file {loop_up:7.2f} s   seamless-upload {ours_up:7.2f} s   "
          f"ratio {loop_up / ours_up:.2f}x")
    print(f"  download  one GET per file {loop_down:7.2f} s   seamless-download {ours_down:7.2f} s   "
          f"ratio {loop_down / ours_down:.2f}x")


def main() -> None:
    size = parse_size(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30
    nfiles = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    with tempfile.TemporaryDirectory() as tmp:
        hs_dir = os.path.join(tmp, "hs")
        os.makedirs(hs_dir)
        proc, url = start_hashserver(hs_dir)
        try:
            big_buffer(tmp, url, hs_dir, size)
            small_files(tmp, url, hs_dir, nfiles)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
