"""The add example in every built-in language, and what is (and is not) identity."""

import shutil

import pytest

from compiled_helpers import ADD_CODE, ADD_SCHEMA, RESULT_42, make, record_of
from seamless_transformer import config


@pytest.mark.parametrize("language", ["c", "cpp", "fortran", "rust"])
def test_add_gives_42_with_the_golden_result_checksum(language):
    compiler = {"c": "gcc", "cpp": "g++", "fortran": "gfortran", "rust": "rustc"}[language]
    assert shutil.which(compiler), f"{compiler} is missing: scripts/test.sh installs it"
    tf = make(language, ADD_SCHEMA, ADD_CODE[language])(a=19, b=23)
    assert tf.run() == 42
    assert tf.checksum == RESULT_42


def test_direct_compiled_transformer_returns_the_value():
    assert make("c", ADD_SCHEMA, ADD_CODE["c"], direct=True)(19, 23) == 42


def test_compiler_flags_are_not_identity():
    fast = make("c", ADD_SCHEMA, ADD_CODE["c"])
    slow = make("c", ADD_SCHEMA, ADD_CODE["c"])
    slow.compilation["options"] = [o if o != "-O3" else "-O1" for o in slow.compilation["options"]]
    assert "-O1" in slow.compilation["options"]
    assert fast(a=1, b=2).transformation_checksum == slow(a=1, b=2).transformation_checksum


def test_schema_code_language_and_arguments_are_identity():
    base = make("c", ADD_SCHEMA, ADD_CODE["c"])(a=1, b=2).transformation_checksum
    assert make("cpp", ADD_SCHEMA, ADD_CODE["c"])(a=1, b=2).transformation_checksum != base
    assert make("c", ADD_SCHEMA + "\n# comment", ADD_CODE["c"])(a=1, b=2).transformation_checksum != base
    assert make("c", ADD_SCHEMA, ADD_CODE["c"] + " ")(a=1, b=2).transformation_checksum != base
    assert make("c", ADD_SCHEMA, ADD_CODE["c"])(a=1, b=3).transformation_checksum != base


def test_transformation_dict_holds_schema_checksum_text_code_and_mixed_inputs():
    tf = make("c", ADD_SCHEMA, ADD_CODE["c"])(a=1, b=2)
    tf.construct()
    d = tf._tf_dict
    assert d["__language__"] == "c"
    assert d["__output__"] == ["result", "mixed", None]
    assert d["__schema__"] == "5ab56f656cb37f298dd8450de75582bf09dcb75d44c5b5ae51b108475c8bb272"
    assert d["code"][:2] == ["text", "transformer"]
    assert d["a"][:2] == ["mixed", None]
    assert "-O3" in d["__compilation__"]["options"]


def test_metavars_are_not_identity():
    tf = make("c", ADD_SCHEMA, ADD_CODE["c"])
    before = tf(a=1, b=2).transformation_checksum
    tf.metavars.maxK = 10
    assert tf(a=1, b=2).transformation_checksum == before


def test_full_record_says_compiled_and_gives_the_compilation_time():
    config.select_record(True)
    tf = make("c", ADD_SCHEMA, ADD_CODE["c"])(a=5, b=6)
    assert tf.run() == 11
    record = record_of(tf)
    assert record["language_kind"] == "compiled"
    assert isinstance(record["compilation_time_seconds"], float)
