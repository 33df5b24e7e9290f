"""Transformation dicts, identity buffers and tf checksums (SPEC §2.4, §2.5), with SPEC §2.8 goldens."""

import hashlib
import pathlib

import pytest

from seamless_transformer.celltypes import serialize
from seamless_transformer.checksum import Checksum
from seamless_transformer.identity import (
    DERIVED_DUNDERS,
    LOAD_BEARING_DUNDERS,
    ModulePinError,
    ORTHOGONAL_DUNDERS,
    build_python_dict,
    code_text_checksum,
    default_argument_celltype,
    format_entry_for,
    identity_buffer,
    identity_dict,
    module_definition,
    package_sources,
    python_code_text,
    tf_checksum,
    value_pin,
)

DATA = pathlib.Path(__file__).parent / "data"
ADD_CODE = "ba1a531f581d2e6094e978ed6f7aca7a8d92eeb62c6e7ad73ee692f7f18bc772"
ADD_TF = "b305d13f07b5d60227ab9085d44f9abc346793f684d20fd246b199907311a006"
PASTE_AWK_TF = "4cdfa93114f1d80004979ee4338069f477f04317e2cf97d7558987512904f014"


def sha(buffer: bytes) -> str:
    return hashlib.sha256(buffer).hexdigest()


def assert_abbreviated(hexvalue, prefix, suffix):
    hexvalue = str(hexvalue)
    assert len(hexvalue) == 64
    assert hexvalue.startswith(prefix) and hexvalue.endswith(suffix), hexvalue


def tagging(*tags):
    def decorate(func):
        func.tags = tags
        return func

    return decorate


def passthrough(func):
    return func


# --- functions whose source is the subject of the tests ----------------------------------------


@passthrough
def add(a, b):
    return a + b


@tagging(
    "first",
    "second",
)
@passthrough
def mul(a, b):
    # the product
    return a * b  # inline comment


square = lambda x: x * x  # noqa: E731
increment, double = (lambda x: x + 1), (lambda y: y * 2)  # noqa: E731
scaled = (lambda x, factor=(1, 2): x * factor[0], 3)[0]  # noqa: E731
two_line = lambda x: (  # noqa: E731
    x + 1
)


def python_pipeline_dict(code_text, language="python", code_celltype="python"):
    """The dict direct()/delayed() build for f(a=19, b=23) with a mixed result (SPEC §2.5)."""
    return {
        "__language__": language,
        "__output__": ["result", "mixed", None],
        "__meta__": {"transformer_path": ["tf", "tf"], "local": False, "__direct_print__": False},
        "code": [code_celltype, "transformer", code_text_checksum(code_text).hex()],
        "a": value_pin(19)[0],
        "b": value_pin(23)[0],
    }


def bash_dict(code, **pins):
    tf = {
        "__language__": "bash",
        "__output__": ["result", "bytes", None],
        "code": ["text", None, code_text_checksum(code).hex()],
    }
    tf.update(pins)
    return tf


# --- python_code_text --------------------------------------------------------------------------


def test_code_text_of_add_is_its_source_without_decorator():
    assert python_code_text(add) == "def add(a, b):\n    return a + b\n"


def test_code_text_strips_a_multi_line_decorator_and_keeps_comments():
    expected = "def mul(a, b):\n    # the product\n    return a * b  # inline comment\n"
    assert python_code_text(mul) == expected


def test_code_text_of_a_nested_function_is_dedented():
    @passthrough
    def inner(x):
        return x

    assert python_code_text(inner) == "def inner(x):\n    return x\n"


def test_code_text_of_a_one_line_lambda_is_the_lambda_expression():
    assert python_code_text(square) == "lambda x: x * x"


def test_code_text_picks_the_right_lambda_on_a_shared_line():
    assert python_code_text(increment) == "lambda x: x + 1"
    assert python_code_text(double) == "lambda y: y * 2"


def test_code_text_of_a_lambda_with_several_parameters_inside_a_tuple():
    assert python_code_text(scaled) == "lambda x, factor=(1, 2): x * factor[0]"


def test_code_text_refuses_a_two_line_lambda():
    with pytest.raises(ValueError):
        python_code_text(two_line)


def test_code_text_refuses_a_builtin():
    with pytest.raises(TypeError):
        python_code_text(len)


def test_golden_add_code_checksum():
    assert code_text_checksum(python_code_text(add)) == ADD_CODE


def test_code_text_checksum_normalizes_trailing_newlines():
    assert code_text_checksum("a + b") == code_text_checksum("a + b\n\n") == sha(b"a + b\n")


# --- value_pin ---------------------------------------------------------------------------------


def test_golden_mixed_19_and_23():
    assert value_pin(19) == (["mixed", None, "a9742eb8ee320e006666aef25ae9aeed948247f3125c9cafa7cf97b7e7467dd5"], b"19\n")
    assert value_pin(23)[0][2] == "076320a2a08267b4c026d06573bba408ea68841e73cdc20e62cce59de165ece3"


def test_value_pin_uses_a_checksum_instance_directly():
    cs = Checksum("076320a2a08267b4c026d06573bba408ea68841e73cdc20e62cce59de165ece3")
    assert value_pin(cs) == (["mixed", None, cs.hex()], None)


def test_value_pin_treats_a_64_char_str_as_a_value():
    text = "076320a2a08267b4c026d06573bba408ea68841e73cdc20e62cce59de165ece3"
    entry, buffer = value_pin(text)
    assert buffer == serialize(text, "mixed")
    assert entry == ["mixed", None, sha(buffer)]


def test_value_pin_serializes_none_as_plain_null():
    entry, buffer = value_pin(None, "text")
    assert buffer == b"null\n"
    assert entry == ["text", None, sha(b"null\n")]


def test_value_pin_module_is_plain_with_module_subcelltype():
    entry, buffer = value_pin({"language": "python", "type": "interpreted", "code": "x = 1"}, "module")
    assert entry == ["plain", "module", sha(buffer)]
    assert buffer == serialize({"language": "python", "type": "interpreted", "code": "x = 1"}, "plain")


def test_value_pin_checksum_celltype_serializes_the_checksum_value():
    cs = Checksum(ADD_CODE)
    entry, buffer = value_pin(cs, "checksum")
    assert buffer == f'"{ADD_CODE}"\n'.encode()
    assert entry == ["plain", "checksum", sha(buffer)]


@pytest.mark.parametrize("celltype", ["deepfolder", "folder"])
def test_value_pin_directory_celltypes_keep_their_celltype(celltype):
    entry, buffer = value_pin({"a.txt": ADD_CODE}, celltype)
    assert entry == [celltype, None, sha(buffer)]


@pytest.mark.parametrize("celltype", ["deepfolder", "folder"])
def test_directory_celltypes_need_a_format_entry(celltype):
    assert format_entry_for(celltype) == {"filesystem": {"mode": "directory"}, "celltype": celltype}


def test_other_celltypes_need_no_format_entry():
    assert format_entry_for("mixed") is None


@pytest.mark.parametrize("celltype", ["cson", "yaml", "python"])
def test_value_pin_refuses_unimplemented_argument_celltypes(celltype):
    with pytest.raises(NotImplementedError):
        value_pin("a: 1", celltype)


def test_schema_pins_default_to_plain_and_others_to_mixed():
    assert default_argument_celltype("INPUT_SCHEMA") == "plain"
    assert default_argument_celltype("a") == "mixed"


# --- the identity rule -------------------------------------------------------------------------


def test_golden_add_19_23_identity_buffer_is_byte_exact():
    tf = python_pipeline_dict(python_code_text(add))
    assert identity_buffer(tf) == (DATA / "add_19_23.identity.json").read_bytes()


def test_golden_add_19_23_tf_checksum():
    assert tf_checksum(python_pipeline_dict(python_code_text(add))) == ADD_TF


def test_tf_checksum_is_a_checksum_of_the_identity_buffer():
    tf = python_pipeline_dict(python_code_text(add))
    result = tf_checksum(tf)
    assert isinstance(result, Checksum) and result == sha(identity_buffer(tf))


def test_golden_direct_python_expression():
    tf = python_pipeline_dict("a + b")
    assert tf_checksum(tf) == "27ac0bd642ebba065bb4b6fe85e9c2951428c9733db4785151e58df16bf69c37"


def test_golden_direct_bash_expression():
    tf = python_pipeline_dict("echo $((a + b)) > RESULT", language="bash", code_celltype="text")
    assert tf_checksum(tf) == "e85c53866a80c5d15b27f88321b0b05e7ba312690c5181cc84cc027b50737140"


def _paste_awk_dict():
    code = "(\npaste data/b.txt data/a.txt | awk 'NF == 2 && $1 > 10{print $2}' \n) > RESULT\n"
    a_txt = b"apples\npears\noranges\nbananas\npineapples\nkiwis\ntomatoes"
    b_txt = b"5\n12\n7\n4\n15\n8\n1\n80\n90"
    assert sha(code.encode()) == "158840e8292054f14768d973d3630069697896202b18b1e487ed2874618a1525"
    assert sha(a_txt) == "ee53c53e5f65f2a25583be11f99f1c2f159378c40299cd14a7c9c3a691247c58"
    assert sha(b_txt) == "856c10cafc4ca6f70d9779cf6b019071df40ffc6604390da57940aa336bf9603"
    file_format = {"filesystem": {"mode": "file", "optional": True}}
    return bash_dict(
        code,
        __format__={"data/a.txt": file_format, "data/b.txt": file_format},
        **{"data/a.txt": ["bytes", None, sha(a_txt)], "data/b.txt": ["bytes", None, sha(b_txt)]},
    )


def test_golden_paste_awk_tf_checksum():
    assert tf_checksum(_paste_awk_dict()) == PASTE_AWK_TF


def test_golden_paste_awk_without_format_differs():
    tf = _paste_awk_dict()
    del tf["__format__"]
    assert_abbreviated(tf_checksum(tf), "c3c52b29", "4531")


def test_golden_echo_hello():
    tf = bash_dict("(\necho hello\n) > RESULT\n")
    assert tf_checksum(tf) == "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_golden_conda_env_buffer_does_not_change_echo_hello():
    env_buffer = serialize({"conda_environment": "myenv"}, "plain")
    assert env_buffer == b'{\n  "conda_environment": "myenv"\n}\n'
    assert_abbreviated(sha(env_buffer), "c809a3b6", "c257")
    tf = bash_dict("(\necho hello\n) > RESULT\n", __env__=sha(env_buffer))
    assert tf_checksum(tf) == "706b247db5f69ec5dc5b452a1a9164089faed42eaab3d461b8dfdf3217a36550"


def test_golden_var_n_equals_3():
    entry, buffer = value_pin("3", "str")
    assert buffer == b'"3"\n'
    assert entry == ["str", None, "6a9d3546d0eafa98251ab1abb06d0d8a1fba95ec27fc1e9ed5b6dc380ac2c22d"]
    tf = bash_dict("(\necho $N\n) > RESULT\n", N=entry)
    assert tf_checksum(tf) == "83b7891433572c08e68010456398956aef4d548acdf8d228f4022ba9fcfe2ee9"


@pytest.mark.parametrize("value", ["4", "5"])
def test_golden_metavar_value_is_not_identity(value):
    tf = bash_dict('export T="${META__T}"\n(\necho $T\n) > RESULT\n', META__T=value_pin(value, "str")[0])
    assert_abbreviated(tf_checksum(tf), "1005b60e", "afbb")
    assert tf_checksum(tf) == "1005b60e6a284eb979da708264c71e888d13a871fead9da65f85f6565765afbb"


def test_golden_echo_quoted_words():
    tf = bash_dict("(\necho 'a b'\n) > RESULT\n")
    assert_abbreviated(tf_checksum(tf), "bba037dc", "a6a8")


def test_unknown_dunder_is_refused_with_its_name():
    tf = bash_dict("(\necho hello\n) > RESULT\n", __foo__=1)
    with pytest.raises(ValueError, match=r"^Unknown transformation dunder key: __foo__$"):
        tf_checksum(tf)


def test_non_str_key_is_refused():
    tf = bash_dict("(\necho hello\n) > RESULT\n")
    tf[1] = ["mixed", None, ADD_CODE]
    with pytest.raises(TypeError):
        tf_checksum(tf)


def test_malformed_pin_is_refused():
    tf = bash_dict("(\necho hello\n) > RESULT\n", x=ADD_CODE)
    with pytest.raises(TypeError):
        tf_checksum(tf)


@pytest.mark.parametrize(
    "key, value",
    [("__meta__", {"local": True}), ("__env__", ADD_CODE), ("META__X", ["str", None, ADD_CODE])]
    + [(key, {"anything": [1, 2]}) for key in sorted(ORTHOGONAL_DUNDERS | DERIVED_DUNDERS)],
)
def test_non_identity_keys_never_change_the_tf_checksum(key, value):
    tf = python_pipeline_dict(python_code_text(add))
    tf[key] = value
    assert tf_checksum(tf) == ADD_TF


@pytest.mark.parametrize("key", sorted(LOAD_BEARING_DUNDERS - {"__language__", "__output__"}))
def test_load_bearing_dunders_change_the_tf_checksum(key):
    tf = python_pipeline_dict(python_code_text(add))
    tf[key] = {"a": "x"}
    assert tf_checksum(tf) != ADD_TF


def test_identity_dict_keeps_only_load_bearing_dunders_and_regular_pins():
    tf = python_pipeline_dict(python_code_text(add))
    tf["META__X"] = ["str", None, ADD_CODE]
    tf["__deps__"] = {"a": ADD_CODE}
    assert sorted(identity_dict(tf)) == ["__language__", "__output__", "a", "b", "code"]


def test_pins_as_tuples_with_checksums_equal_lists_with_hex():
    tf = python_pipeline_dict(python_code_text(add))
    tf["code"] = ("python", "transformer", Checksum(ADD_CODE.upper()))
    tf["__output__"] = ("result", "mixed", None)
    assert tf_checksum(tf) == ADD_TF


def test_dunder_classes_are_disjoint():
    assert not (LOAD_BEARING_DUNDERS & ORTHOGONAL_DUNDERS)
    assert not (LOAD_BEARING_DUNDERS & DERIVED_DUNDERS)
    assert not (ORTHOGONAL_DUNDERS & DERIVED_DUNDERS)


def test_function_without_source_code_is_refused_with_a_clear_error():
    namespace = {}
    exec("def f(x):\n    return x\n", namespace)
    with pytest.raises(ValueError, match="cannot read the source code of function 'f'"):
        python_code_text(namespace["f"])


@pytest.mark.parametrize("hexvalue", [ADD_CODE, ADD_CODE.upper()])
def test_a_pin_from_a_checksum_object_and_from_its_hex_give_the_same_identity(hexvalue):
    from_hex = dict(python_pipeline_dict(python_code_text(add)), code=["python", "transformer", hexvalue])
    from_object = dict(from_hex, code=["python", "transformer", Checksum(ADD_CODE)])
    assert identity_dict(from_object)["code"] == ["python", "transformer", ADD_CODE]
    assert [type(part) for part in identity_dict(from_object)["code"]] == [str, str, str]
    assert identity_dict(from_hex) == identity_dict(from_object)
    assert identity_buffer(from_object) == identity_buffer(from_hex)
    assert tf_checksum(from_object) == tf_checksum(from_hex)


def _package(root, files):
    """A package-like object over a real directory tree of `files` {relpath: source}."""
    import types

    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return types.SimpleNamespace(__name__="pkg", __file__=str(root / "__init__.py"))


def test_package_sources_leave_out_hidden_directories_and_pycache(tmp_path):
    package = _package(tmp_path, {"__init__.py": "", "sub/m.py": "x = 1\n", ".hidden/h.py": "",
                                  "__pycache__/c.py": ""})
    assert package_sources(package) == {"__init__.py": "", "sub/m.py": "x = 1\n"}


@pytest.mark.parametrize("init", [None, "mod.py"], ids=["namespace", "module-file"])
def test_package_sources_refuse_a_package_without_an_init_file(tmp_path, init):
    import types

    (tmp_path / "mod.py").write_text("")
    package = types.SimpleNamespace(__name__="pkg", __file__=init and str(tmp_path / init))
    with pytest.raises(ModulePinError, match="namespace package without an __init__.py"):
        package_sources(package)


def test_python_dict_carries_the_buffer_of_every_argument_value():
    _tf_dict, _tf, buffers = _python_dict({"a": 19, "b": [1]}, {})
    assert serialize(19, "mixed") in buffers.values()
    assert serialize([1], "mixed") in buffers.values()


def _python_dict(arguments, celltypes):
    return build_python_dict(language="python", code_text="a", arguments=arguments, celltypes=celltypes,
                             modules={}, globals_={}, env=None, meta=None)


def test_python_dict_without_directory_arguments_has_no_format_entry():
    tf_dict, _tf, _buffers = _python_dict({"a": 1}, {})
    assert "__format__" not in tf_dict


def test_python_dict_with_a_directory_argument_has_its_format_entry():
    tf_dict, _tf, _buffers = _python_dict({"a": {"x.txt": ADD_CODE}}, {"a": "folder"})
    assert tf_dict["__format__"] == {"a": format_entry_for("folder")}


def test_module_definition_with_a_non_str_source_is_refused():
    with pytest.raises(ModulePinError, match="a definition is"):
        module_definition({"language": "python", "code": {"__init__.py": "", "m.py": b"x = 1\n"}}, "pkg")


def test_python_dict_carries_meta_as_given():
    tf_dict, _tf, _buffers = build_python_dict(language="python", code_text="a", arguments={}, celltypes={},
                                               modules={}, globals_={}, env=None, meta={"ncores": 2})
    assert tf_dict["__meta__"] == {"ncores": 2}


def test_module_definition_of_an_object_that_is_no_module_is_refused():
    import types

    impostor = types.SimpleNamespace(__name__="fake", __file__=__file__)
    with pytest.raises(ModulePinError, match="module 'fake' cannot be shipped: it has no Python source"):
        module_definition(impostor)
