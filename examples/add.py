"""A first transformation: computed once, then served from the cache.

Run it twice: the second run prints "cache hit" and does not execute `add` again.
"""

from seamless_transformer import delayed


@delayed
def add(a, b):
    print("computing", a, "+", b)
    return a + b


tf = add(19, 23)
print("transformation", tf.construct())
print("cached before running:", tf.is_cached())
print("result", tf.run())
print("logs of this execution:", repr(tf.logs))
