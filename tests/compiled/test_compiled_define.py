"""define_compiled_language, extra objects linked with the transformer, and package mode."""

import pytest

from compiled_helpers import ADD_CODE, ADD_SCHEMA, make
from seamless.transformer import CompiledObject, TransformationError, define_compiled_language

C_O1 = {"compiler": "gcc", "language_flag": "-x c", "compile_flag": "-c", "options": ["-O1", "-fPIC"],
        "extension": "c"}


def test_a_defined_language_runs_the_add_example():
    define_compiled_language("c_o1", C_O1)
    assert make("c_o1", ADD_SCHEMA, ADD_CODE["c"])(a=19, b=23).run() == 42


def test_the_definition_travels_with_the_transformation():
    from seamless_transformer.execution.compiled import languages

    define_compiled_language("c_travel", C_O1)
    tf = make("c_travel", ADD_SCHEMA, ADD_CODE["c"] + "\n/* travel */\n")(a=1, b=1)
    tf.construct()
    languages._defined.pop("c_travel")  # as in a worker that never saw the definition
    assert tf.run() == 2


@pytest.mark.parametrize("compilation, words", [
    ({"options": ["-O1"]}, "needs a 'compiler'"),
    ({**C_O1, "mode": "shared"}, "mode must be one of"),
    ({**C_O1, "flags": "-O1"}, "unknown key 'flags'"),
    ({**C_O1, "extension": "../c"}, "extension must be letters and digits"),
    ({**C_O1, "options": 3}, "'options' must be a list of str"),
])
def test_a_bad_language_definition_is_refused(compilation, words):
    with pytest.raises((TypeError, ValueError), match=words):
        define_compiled_language("bad", compilation)


def test_python_is_not_a_compiled_language():
    with pytest.raises(ValueError, match="not a compiled language"):
        define_compiled_language("python", C_O1)


def test_objects_in_another_language_are_linked_in():
    main = ("#include <stdint.h>\nint add_impl(int a, int b);\n"
            "int transform(int32_t a, int32_t b, int32_t *result) { *result = add_impl(a, b); return 0; }\n")
    tf = make("c", ADD_SCHEMA, main)
    tf.objects = [CompiledObject("cpp", 'extern "C" int add_impl(int a, int b) { return a + b; }\n')]
    t = tf(a=19, b=23)
    assert t.run() == 42
    assert t._tf_dict["objects"][:2] == ["plain", "compiled-objects"]
    assert t._tf_dict["__languages__"]["cpp"]["compiler"] == "g++"


def test_package_mode_needs_a_dict_of_files():
    define_compiled_language("pkg", {**C_O1, "mode": "package"})
    with pytest.raises(TypeError, match="package mode"):
        CompiledObject("pkg", "int x;")


def test_a_package_file_outside_its_directory_is_refused():
    define_compiled_language("pkg2", {**C_O1, "mode": "package"})
    tf = make("c", ADD_SCHEMA, ADD_CODE["c"])
    tf.objects = [CompiledObject("pkg2", {"../escape.c": "int x;"})]
    with pytest.raises(TransformationError, match="not a plain relative path"):
        tf(a=1, b=2).run()


STD_CODE = """#include <cstdint>
#include <numeric>
#include <vector>
extern "C" int transform(int32_t a, int32_t b, int32_t *result) {
    std::vector<int32_t> v{a, b};
    *result = std::accumulate(v.begin(), v.end(), 0);
    return 0;
}
"""


def test_cpp_code_may_use_the_standard_library():
    assert make("cpp", ADD_SCHEMA, STD_CODE)(a=19, b=23).run() == 42


def test_a_module_missing_a_library_says_which_symbol_and_where_to_look():
    define_compiled_language("cpp_unlinked", {**C_O1, "compiler": "g++", "language_flag": "-x c++"})
    with pytest.raises(TransformationError, match="undefined symbol.*link_options"):
        make("cpp_unlinked", ADD_SCHEMA, STD_CODE)(a=19, b=23).run()


def test_c_code_may_use_openmp():
    code = """#include <stdint.h>
#include <omp.h>
int transform(int32_t a, int32_t b, int32_t *result) {
    int32_t total = 0;
    #pragma omp parallel for reduction(+:total) num_threads(2)
    for (int i = 0; i < 2; i++) total += i == 0 ? a : b;
    *result = total + 0 * omp_get_max_threads();
    return 0;
}
"""
    assert make("c", ADD_SCHEMA, code)(a=19, b=23).run() == 42


def test_objects_must_be_compiled_objects():
    tf = make("c", ADD_SCHEMA, ADD_CODE["c"])
    tf.objects = ["int x;"]
    with pytest.raises(TypeError, match="CompiledObject"):
        tf(a=1, b=2)
