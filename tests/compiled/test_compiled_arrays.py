"""Arrays, output-only wildcards, structs, and the errors of a call that does not fit the schema."""

import numpy as np
import pytest

from compiled_helpers import make
from seamless.transformer import TransformationError
from test_compiled_schema import ARRAY_SCHEMA, POSITIONS_SCHEMA, STRUCT_SCHEMA

SCALE_C = """#include "transform.h"
int transform(unsigned int N, const double *x, double factor, double *y) {
    for (unsigned int i = 0; i < N; i++) y[i] = x[i] * factor;
    return 0;
}
"""
POSITIONS_C = """#include "transform.h"
int transform(unsigned int N, unsigned int maxK, const double *x, unsigned int *K, int64_t *pos) {
    unsigned int k = 0;
    for (unsigned int i = 0; i < N; i++) {
        if (x[i] > 0) { if (k == maxK) return 1; pos[k++] = i; }
    }
    *K = k;
    return 0;
}
"""
STRUCT_C = """#include "transform.h"
int transform(unsigned int N, const PtsStruct *pts, double *total) {
    double t = 0;
    for (unsigned int i = 0; i < N; i++) t += pts[i].xyz[0] + pts[i].xyz[1] + pts[i].xyz[2] + pts[i].id;
    *total = t;
    return 0;
}
"""
DOT_SCHEMA = """inputs:
  - {name: a, dtype: float64, shape: [N]}
  - {name: b, dtype: float64, shape: [N]}
outputs:
  - {name: dot, dtype: float64}
"""
DOT_C = """int transform(unsigned int N, const double *a, const double *b, double *dot) {
    double t = 0;
    for (unsigned int i = 0; i < N; i++) t += a[i] * b[i];
    *dot = t;
    return 0;
}
"""
TWO_OUTPUTS_SCHEMA = """inputs:
  - {name: a, dtype: int32}
outputs:
  - {name: twice, dtype: int32}
  - {name: square, dtype: int64}
"""
TWO_OUTPUTS_C = """#include <stdint.h>
int transform(int32_t a, int32_t *twice, int64_t *square) { *twice = 2 * a; *square = (int64_t) a * a; return 0; }
"""


def scale():
    return make("c", ARRAY_SCHEMA, SCALE_C)


def test_vector_scaled_by_a_factor():
    y = scale()(x=np.arange(5, dtype=np.float64), factor=2.5).run()
    assert y.dtype == np.float64 and y.tolist() == [0.0, 2.5, 5.0, 7.5, 10.0]


def test_big_endian_and_strided_inputs_are_converted():
    x = np.arange(10, dtype=">f8")[::2]
    assert scale()(x=x, factor=2.0).run().tolist() == [0.0, 4.0, 8.0, 12.0, 16.0]


def test_a_list_of_ints_is_accepted_for_a_float64_array():
    assert scale()(x=[1, 2, 3], factor=3).run().tolist() == [3.0, 6.0, 9.0]


def test_output_only_wildcard_is_trimmed_to_the_reported_size():
    tf = make("c", POSITIONS_SCHEMA, POSITIONS_C, maxK=10)
    pos = tf(x=np.array([1.0, -1.0, 2.0, 0.0, 3.0])).run()
    assert pos.dtype == np.int64 and pos.tolist() == [0, 2, 4]


def test_output_only_wildcard_without_its_max_metavar_names_it():
    with pytest.raises(TransformationError, match="metavars.maxK") as info:
        make("c", POSITIONS_SCHEMA, POSITIONS_C)(x=np.ones(3)).run()
    assert "\n" not in str(info.value)


def test_struct_array_input_is_laid_out_like_the_c_struct():
    pts = np.zeros(2, dtype=[("xyz", "<f4", (3,)), ("id", "<i4")])
    pts["xyz"] = [[1, 2, 3], [4, 5, 6]]
    pts["id"] = [10, 20]
    assert make("c", STRUCT_SCHEMA, STRUCT_C)(pts=pts).run() == 51.0


def test_several_outputs_give_a_dict():
    assert make("c", TWO_OUTPUTS_SCHEMA, TWO_OUTPUTS_C)(a=7).run() == {"twice": 14, "square": 49}


def test_wrong_dtype_is_one_line_naming_the_parameter():
    with pytest.raises(TransformationError) as info:
        scale()(x=np.arange(3, dtype=np.int32), factor=2.0).run()
    message = str(info.value)
    assert "input 'x'" in message and "float64" in message and "int32" in message
    assert "\n" not in message


def test_float_for_an_int_scalar_is_one_line_naming_the_parameter():
    from compiled_helpers import ADD_CODE, ADD_SCHEMA

    with pytest.raises(TransformationError) as info:
        make("c", ADD_SCHEMA, ADD_CODE["c"])(a=1.5, b=2).run()
    assert "input 'a'" in str(info.value) and "\n" not in str(info.value)


def test_wildcard_mismatch_is_one_line_naming_both_parameters():
    with pytest.raises(TransformationError) as info:
        make("c", DOT_SCHEMA, DOT_C)(a=np.ones(3), b=np.ones(4)).run()
    message = str(info.value)
    assert "input 'b'" in message and "wildcard N" in message and "'a'" in message
    assert "\n" not in message


def test_wrong_number_of_dimensions_names_the_parameter():
    with pytest.raises(TransformationError, match="input 'x': expected shape"):
        scale()(x=np.ones((2, 2)), factor=1.0).run()


def test_nonzero_status_raises():
    code = "#include <stdint.h>\nint transform(int32_t a, int32_t b, int32_t *result) { return 3; }\n"
    from compiled_helpers import ADD_SCHEMA

    with pytest.raises(TransformationError, match="Compiled transform returned non-zero status 3"):
        make("c", ADD_SCHEMA, code)(a=1, b=2).run()


def test_broken_source_gives_the_compiler_command_and_message():
    from compiled_helpers import ADD_SCHEMA

    with pytest.raises(TransformationError) as info:
        make("c", ADD_SCHEMA, "int transform(int a, { oops")(a=1, b=2).run()
    message = str(info.value)
    assert "command: gcc -x c -c -O3" in message
    assert "error:" in message and "main.c" in message


def test_missing_input_is_refused_at_the_call():
    with pytest.raises(TypeError, match="missing input: 'factor'"):
        scale()(x=[1.0])


def test_unknown_input_is_refused_at_the_call():
    with pytest.raises(TypeError, match="no input 'z'"):
        scale()(x=[1.0], factor=1.0, z=3)


SPLIT_SCHEMA = """inputs:
  - {name: x, dtype: float64, shape: [N]}
outputs:
  - {name: low, dtype: float64, shape: [N]}
  - {name: high, dtype: float64, shape: [N]}
"""
SPLIT_C = """int transform(unsigned int N, const double *x, double *low, double *high) {
    for (unsigned int i = 0; i < N; i++) { low[i] = x[i] - 1; high[i] = x[i] + 1; }
    return 0;
}
"""


def test_several_array_outputs_as_deepcell_give_leaf_checksums_of_the_arrays():
    from seamless_transformer.api.handles import Checksum

    tf = make("c", SPLIT_SCHEMA, SPLIT_C)
    tf.celltypes.result = "deepcell"
    index = tf(x=np.array([1.0, 2.0])).run()
    assert sorted(index) == ["high", "low"]
    assert Checksum(index["high"]).resolve("mixed").tolist() == [2.0, 3.0]
    assert Checksum(index["low"]).resolve("mixed").tolist() == [0.0, 1.0]


def test_several_array_outputs_as_mixed_say_to_use_deepcell():
    with pytest.raises(TransformationError, match="deepcell"):
        make("c", SPLIT_SCHEMA, SPLIT_C)(x=np.array([1.0, 2.0])).run()


def test_complex_arrays_and_char_and_bool_scalars_pass_through():
    tf = make("c", """inputs:
  - {name: z, dtype: complex128, shape: [N]}
  - {name: c, dtype: char}
  - {name: f, dtype: bool}
outputs:
  - {name: r, dtype: complex64, shape: [N]}
""", """#include "transform.h"
#include <complex.h>
int transform(unsigned int N, const _Complex double *z, char c, bool f, _Complex float *r) {
    for (unsigned int i = 0; i < N; i++) r[i] = z[i] * (c + f);
    return 0;
}
""")
    r = tf(z=np.array([1 + 2j, 1j]), c=b"A", f=True).run()
    assert r.dtype == np.complex64 and r.tolist() == [66 + 132j, 66j]


def test_an_int_that_does_not_fit_the_dtype_names_the_parameter():
    from compiled_helpers import ADD_CODE, ADD_SCHEMA

    with pytest.raises(TransformationError, match="input 'b': 4294967296 does not fit in int32"):
        make("c", ADD_SCHEMA, ADD_CODE["c"])(a=1, b=2**32).run()


def test_struct_array_with_other_field_names_names_the_parameter():
    pts = np.zeros(2, dtype=[("xyz", "<f4", (3,)), ("ident", "<i4")])
    with pytest.raises(TransformationError, match=r"input 'pts': expected struct \{xyz, id\}"):
        make("c", STRUCT_SCHEMA, STRUCT_C)(pts=pts).run()


def test_struct_array_with_a_field_of_another_type_names_the_parameter():
    pts = np.zeros(2, dtype=[("xyz", "<f8", (3,)), ("id", "<i4")])
    with pytest.raises(TransformationError, match=r"input 'pts': expected struct \{xyz, id\}"):
        make("c", STRUCT_SCHEMA, STRUCT_C)(pts=pts).run()


def test_big_endian_struct_array_is_converted():
    pts = np.zeros(1, dtype=[("xyz", ">f4", (3,)), ("id", ">i4")])
    pts["xyz"], pts["id"] = [[1, 2, 3]], [4]
    assert make("c", STRUCT_SCHEMA, STRUCT_C)(pts=pts).run() == 10.0


def test_packed_struct_array_is_converted_to_the_padded_c_layout():
    schema = """inputs:
  - name: items
    dtype: {fields: [{name: flag, dtype: int8}, {name: weight, dtype: float64}]}
    shape: [N]
outputs:
  - {name: total, dtype: float64}
"""
    code = """#include "transform.h"
int transform(unsigned int N, const ItemsStruct *items, double *total) {
    double t = 0;
    for (unsigned int i = 0; i < N; i++) if (items[i].flag) t += items[i].weight;
    *total = t;
    return 0;
}
"""
    items = np.array([(1, 2.5), (0, 100.0), (1, 4.0)], dtype=[("flag", "i1"), ("weight", "<f8")])
    assert items.dtype.itemsize == 9  # packed: the C struct is 16 bytes
    assert make("c", schema, code)(items=items).run() == 6.5


def test_a_reported_size_beyond_max_raises():
    code = """#include "transform.h"
int transform(unsigned int N, unsigned int maxK, const double *x, unsigned int *K, int64_t *pos) {
    *K = maxK + 1;
    return 0;
}
"""
    with pytest.raises(TransformationError, match="reported K = 3, more than maxK = 2"):
        make("c", POSITIONS_SCHEMA, code, maxK=2)(x=np.ones(3)).run()


def test_a_ragged_list_is_one_line_naming_the_parameter():
    with pytest.raises(TransformationError) as info:
        make("c", DOT_SCHEMA, DOT_C)(a=[[1.0, 2.0], [3.0]], b=np.ones(2)).run()
    assert "input 'a': cannot be read as float64" in str(info.value) and "\n" not in str(info.value)


def test_a_max_metavar_beyond_an_unsigned_int_is_refused_when_set():
    tf = make("c", POSITIONS_SCHEMA, POSITIONS_C)
    with pytest.raises(TypeError, match="metavars.maxK must be an int from 0 to 4294967295"):
        tf.metavars.maxK = 2**32


def test_a_max_metavar_beyond_an_unsigned_int_in_a_transformation_names_it():
    tf = make("c", POSITIONS_SCHEMA, POSITIONS_C)
    tf.meta = {"metavars": {"maxK": 2**32}}  # as a transformation dict from elsewhere may hold it
    with pytest.raises(TransformationError, match="needs metavars.maxK"):
        tf(x=np.ones(3)).run()


def test_an_input_called_self_can_be_given_by_keyword():
    schema = "inputs: [{name: self, dtype: int32}]\noutputs: [{name: r, dtype: int32}]\n"
    code = '#include "transform.h"\nint transform(int32_t self, int32_t *r) { *r = self; return 0; }\n'
    assert make("c", schema, code)(self=3).run() == 3
