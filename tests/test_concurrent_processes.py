"""Many processes computing on one cache directory at once (SPEC §3.6)."""

import sqlite3
import subprocess
import sys
import textwrap


def test_eight_processes_fifty_transformations_each_share_one_cache(tmp_path):
    cache = tmp_path / "cache"
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent('''
        import sys
        from seamless_transformer import delayed

        @delayed
        def scaled(x, k):
            return x * k

        k = int(sys.argv[1])
        values = [scaled(x, k).run() for x in range(50)]
        assert values == [x * k for x in range(50)], values
        print("ok")
    '''))
    env = {"SEAMLESS_CACHE": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, str(script), str(k)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(1, 9)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    assert [out for out, _err in outputs] == ["ok\n"] * 8
    assert all(err == "" for _out, err in outputs)
    with sqlite3.connect(cache / "__TOPLEVEL__" / "seamless.db") as con:
        assert con.execute("SELECT COUNT(*) FROM transformation").fetchone()[0] == 400
        assert con.execute("SELECT COUNT(*) FROM meta_data").fetchone()[0] == 400
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
