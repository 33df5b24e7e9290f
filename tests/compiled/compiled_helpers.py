"""Shared values of the compiled-transformer tests: the reference examples (add, arrays, structs) and a transformer maker."""

ADD_SCHEMA = ("inputs:\n  - name: a\n    dtype: int32\n  - name: b\n    dtype: int32\n"
              "outputs:\n  - name: result\n    dtype: int32\n")
ADD_CODE = {
    "c": "#include <stdint.h>\nint transform(int32_t a, int32_t b, int32_t *result) { *result = a + b; return 0; }",
    "cpp": '#include <cstdint>\nextern "C" int transform(int32_t a, int32_t b, int32_t *result) '
           "{ *result = a + b; return 0; }",
    "fortran": 'function transform(a, b, r) bind(C, name="transform") result(s)\nuse iso_c_binding\n'
               "integer(c_int32_t), value :: a, b\ninteger(c_int32_t) :: r\ninteger(c_int) :: s\n"
               "r = a + b\ns = 0\nend function\n",
    "rust": '#[no_mangle] pub extern "C" fn transform(a: i32, b: i32, result: *mut i32) -> i32 '
            "{ unsafe { *result = a + b; } 0 }",
}
RESULT_42 = "084c799cd551dd1d8d5c5f9a5d593b2e931f5e36122ee5c793c1d08a19839cc0"


def make(language, schema, code, direct=False, **metavars):
    """A (Direct)CompiledTransformer with this schema and code."""
    from seamless.transformer import CompiledTransformer, DirectCompiledTransformer

    tf = (DirectCompiledTransformer if direct else CompiledTransformer)(language)
    tf.schema = schema
    tf.code = code
    for name, value in metavars.items():
        setattr(tf.metavars, name, value)
    return tf


def record_of(tf) -> dict:
    """The execution record the database holds for a finished Transformation."""
    import json
    import sqlite3

    from seamless_transformer import flush
    from seamless_transformer.config import get_settings

    flush()  # results are written behind
    with sqlite3.connect(get_settings().database_paths[0]) as conn:
        (text,) = conn.execute("SELECT metadata FROM meta_data WHERE checksum=?",
                               (tf.transformation_checksum.hex(),)).fetchone()
    return json.loads(text)
