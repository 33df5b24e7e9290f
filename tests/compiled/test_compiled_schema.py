"""Schemas and headers of compiled transformers (seamless-signature's output, byte-exact)."""

import pytest

from compiled_helpers import ADD_SCHEMA, make
from seamless_transformer.checksum import Checksum
from seamless_transformer.celltypes import serialize

ARRAY_SCHEMA = """inputs:
  - name: x
    dtype: float64
    shape: [N]
  - name: factor
    dtype: float64
outputs:
  - name: y
    dtype: float64
    shape: [N]
"""
POSITIONS_SCHEMA = """inputs:
  - name: x
    dtype: float64
    shape: [N]
outputs:
  - name: pos
    dtype: int64
    shape: [K]
"""
STRUCT_SCHEMA = """inputs:
  - name: pts
    dtype:
      fields:
        - name: xyz
          dtype: float32
          shape: [3]
        - name: id
          dtype: int32
    shape: [N]
outputs:
  - name: total
    dtype: float64
"""


def test_add_schema_text_has_the_golden_schema_checksum():
    assert Checksum.of(serialize(ADD_SCHEMA, "text")) == "5ab56f656cb37f298dd8450de75582bf09dcb75d44c5b5ae51b108475c8bb272"


def test_add_header_is_byte_exact():
    tf = make("c", ADD_SCHEMA, "")
    assert tf.header == ("#include <stdint.h>\n#include <stdbool.h>\n\nint transform(\n    int32_t a,\n"
                         "    int32_t b,\n    int32_t *result\n);\n")


def test_array_header_passes_the_wildcard_then_pointers():
    header = make("c", ARRAY_SCHEMA, "").header
    assert "int transform(\n    unsigned int N,\n    const double *x,\n    double factor,\n    double *y\n);\n" in header


def test_output_only_wildcard_header_has_maxK_and_a_K_pointer():
    header = make("c", POSITIONS_SCHEMA, "").header
    assert ("int transform(\n    unsigned int N,\n    unsigned int maxK,\n    const double *x,\n"
            "    unsigned int *K,\n    int64_t *pos\n);\n") in header


def test_struct_input_gets_a_camel_case_typedef():
    header = make("c", STRUCT_SCHEMA, "").header
    assert "typedef struct {\n    float xyz[3];\n    int32_t id;\n} PtsStruct;" in header
    assert "    const PtsStruct *pts,\n" in header


def test_fixed_trailing_dimensions_get_an_element_typedef():
    schema = "inputs:\n  - name: v\n    dtype: float64\n    shape: [N, 3]\noutputs:\n  - name: r\n    dtype: float64\n"
    header = make("c", schema, "").header
    assert "typedef double float64_3[3];" in header
    assert "    const float64_3 *v,\n" in header


def test_header_is_read_only():
    tf = make("c", ADD_SCHEMA, "")
    with pytest.raises(AttributeError):
        tf.header = "int transform(void);"


@pytest.mark.parametrize("schema, words", [
    ("inputs: [{name: a, dtype: int33}]\n", "int33"),
    ("inputs: [{name: 1a, dtype: int32}]\n", "C identifier"),
    ("inputs: [{name: a, dtype: int32, shape: [3, N]}]\n", "wildcard"),
    ("inputs: []\nextra: 1\n", "extra"),
    ("inputs: [\n", "YAML"),
    ("inputs: [{name: double, dtype: int32}]\n", "reserved C/C++ name"),
    ("inputs: [{name: a, dtype: int32}, {name: a, dtype: int32}]\n", "used twice"),
    ("inputs: [{name: N, dtype: int32}, {name: x, dtype: int32, shape: [N]}]\n", "used twice"),
])
def test_invalid_schema_is_refused_when_set_with_one_line(schema, words):
    _assert_refused(schema, words)


STRUCT = "{fields: [{name: x, dtype: int32}]}"


@pytest.mark.parametrize("schema, words", [
    ("inputs: [{name: int32_t, dtype: int32}]\n", "'int32_t' is a reserved"),  # stdint.h
    ("inputs: [{name: 'true', dtype: int32}]\n", "'true' is a reserved"),  # stdbool.h
    ("inputs: [{name: _Bool, dtype: int32}]\n", "'_Bool' is a reserved"),  # C11
    ("inputs: [{name: class, dtype: int32}]\n", "'class' is a reserved"),  # C++ includes the header
    ("inputs: [{name: x, dtype: int32, shape: [uint8_t]}]\n", "'uint8_t' is a reserved"),
    (f"inputs: [{{name: p, dtype: {STRUCT}}}, {{name: PStruct, dtype: int32}}]\n", "'PStruct' is a reserved"),
    (f"inputs: [{{name: a_b, dtype: {STRUCT}}}, {{name: a__b, dtype: {STRUCT}}}]\n", "same C type name ABStruct"),
    ("inputs: [{name: p, dtype: {fields: [{name: x, dtype: int32}, {name: x, dtype: int8}]}}]\n", "field 'x' twice"),
    ("inputs: [{name: p, dtype: {fields: [{name: int64_t, dtype: int32}]}}]\n", "field 'int64_t' of 'p'"),
])
def test_a_name_that_clashes_with_the_headers_own_names_is_refused(schema, words):
    _assert_refused(schema, words)


def _assert_refused(schema, words):
    from seamless.transformer import CompiledTransformer

    tf = CompiledTransformer("c")
    with pytest.raises(ValueError) as info:
        tf.schema = schema
    assert words in str(info.value) and "\n" not in str(info.value)


def test_modules_and_globals_are_not_implemented():
    tf = make("c", ADD_SCHEMA, "")
    with pytest.raises(NotImplementedError):
        tf.modules
    with pytest.raises(NotImplementedError):
        tf.globals


def test_unknown_language_is_refused():
    from seamless.transformer import CompiledTransformer

    with pytest.raises(ValueError, match="unknown compiled language 'cobol'"):
        CompiledTransformer("cobol")
