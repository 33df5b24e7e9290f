"""Per-task overhead of trivial `delayed` transformations run in-process, cold and cached.

Compared, on the same function and in the same run: a plain Python loop, and joblib.Memory
(if installed) cold and cached. Run by hand:  python bench/python_api.py [N]
"""

import os
import shutil
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


def square(x):
    return x * x


def timed(label, fn):
    t0 = time.perf_counter()
    fn()
    per_task = (time.perf_counter() - t0) / N
    print(f"{label:<34} {per_task * 1e6:9.1f} µs/task")
    return per_task


def main():
    tmp = tempfile.mkdtemp(prefix="seamless-bench-")
    os.environ["SEAMLESS_CACHE"] = os.path.join(tmp, "cache")
    from seamless_transformer import delayed, flush

    tf_square = delayed(square)
    results = {}
    results["plain"] = timed("plain Python loop", lambda: [square(i) for i in range(N)])
    results["cold"] = timed("seamless delayed, cold (+ flush)", lambda: ([tf_square(i).run() for i in range(N)], flush()))
    results["cached"] = timed("seamless delayed, cached", lambda: [tf_square(i).run() for i in range(N)])
    try:
        import joblib
    except ImportError:
        print("joblib not installed: pip install joblib for the comparison")
        joblib = None
    if joblib is not None:
        memory = joblib.Memory(os.path.join(tmp, "joblib"), verbose=0)
        jl_square = memory.cache(square)
        results["joblib_cold"] = timed("joblib.Memory, cold", lambda: [jl_square(i) for i in range(N)])
        results["joblib_cached"] = timed("joblib.Memory, cached", lambda: [jl_square(i) for i in range(N)])
        print(f"cold:   seamless / joblib = {results['cold'] / results['joblib_cold']:.2f}")
        print(f"cached: seamless / joblib = {results['cached'] / results['joblib_cached']:.2f}")
    print(f"cached: seamless / plain loop = {results['cached'] / results['plain']:.0f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
