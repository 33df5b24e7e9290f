"""A compiled C transformer next to numpy: scaling 10^7 float64 by a factor.

Reported apart, on the same array and in the same run:
  * the first call (compile + link + load, and hashing/storing the 80 MB input);
  * a call of the built module (module cache: what a compiled transformation executes), against
    numpy's `x * factor`; the target is <= 1.2 x numpy + 1 ms of fixed overhead, the overhead
    being measured on a 1-element array;
  * a whole transformation with a new factor (module cached; the input is hashed and stored);
  * a whole transformation again (a result-cache hit).
Prints figures, asserts nothing. Run by hand:  python bench/compiled.py [N]
"""

import os
import statistics
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
REPEAT = 7

SCHEMA = """inputs:
  - {name: x, dtype: float64, shape: [N]}
  - {name: factor, dtype: float64}
outputs:
  - {name: y, dtype: float64, shape: [N]}
"""
CODE = """#include "transform.h"
int transform(unsigned int N, const double *x, double factor, double *y) {
    for (unsigned int i = 0; i < N; i++) y[i] = x[i] * factor;
    return 0;
}
"""


def median_time(fn, repeat=REPEAT):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def call_layer(x, factor):
    """The module call alone: module cache lookup, input checks, allocation, transform()."""
    from seamless_transformer.execution.compiled.build import get_module
    from seamless_transformer.execution.compiled.call import call_transform
    from seamless_transformer.execution.compiled.languages import get_compilation
    from seamless_transformer.execution.compiled.schema import header_of, load_signature

    objects = [{"name": "main", "language": "c", "code": CODE, "compilation": get_compilation("c")}]
    module, _ = get_module(objects, header_of(SCHEMA))
    return call_transform(module, load_signature(SCHEMA), {"x": x, "factor": factor}, {})


def main():
    import numpy as np

    tmp = tempfile.mkdtemp(prefix="seamless-bench-")
    os.environ["SEAMLESS_CACHE"] = os.path.join(tmp, "cache")
    os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "xdg")  # a cold module cache
    from seamless.transformer import CompiledTransformer

    tf = CompiledTransformer("c")
    tf.schema, tf.code = SCHEMA, CODE
    x = np.random.default_rng(0).random(N)

    t0 = time.perf_counter()
    y = tf(x=x, factor=1.5).run()
    first = time.perf_counter() - t0
    assert np.array_equal(y, x * 1.5)
    print(f"N = {N}")
    print(f"first call (compile, link, hash and store input)  {first * 1e3:9.1f} ms")

    t_numpy = median_time(lambda: x * 2.5)
    t_call = median_time(lambda: call_layer(x, 2.5))
    small = np.ones(1)
    t_numpy_1 = median_time(lambda: small * 2.5, 101)
    t_call_1 = median_time(lambda: call_layer(small, 2.5), 101)
    print(f"numpy x * factor                                  {t_numpy * 1e3:9.2f} ms")
    print(f"compiled module call (module cache)               {t_call * 1e3:9.2f} ms")
    print(f"fixed overhead (1 element): module call {t_call_1 * 1e6:.1f} µs, numpy {t_numpy_1 * 1e6:.1f} µs")
    print(f"ratio module call / numpy                         {t_call / t_numpy:9.2f}")
    target = 1.2 * t_numpy + 1e-3
    print(f"target 1.2 x numpy + 1 ms = {target * 1e3:.2f} ms: {'met' if t_call <= target else 'NOT met'}")

    factors = iter(range(3, 100))
    t_tf = median_time(lambda: tf(x=x, factor=float(next(factors))).run(), 3)
    print(f"whole transformation, new factor (module cached)  {t_tf * 1e3:9.1f} ms "
          f"({t_tf / t_numpy:.1f} x numpy: hashing, storing and loading 80 MB in and out)")
    t_hit = median_time(lambda: tf(x=x, factor=1.5).run(), 3)
    print(f"whole transformation again (result cache hit)     {t_hit * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()
