"""Module pins (packages with relative imports) and .globals pins, in-process and in workers."""

import importlib
import sys
import threading

import pytest

from seamless_transformer import delayed
from seamless_transformer.identity import ModulePinError, module_definition

PACKAGE = {
    "__init__.py": "from .helper import double\nfrom . import sub\nVERSION = 'one'\n",
    "helper.py": "def double(x):\n    return 2 * x\n",
    "sub/__init__.py": "from mypkg.helper import double as d2\nfrom ..helper import double as d3\n\n"
                       "def quad(x):\n    return d2(d3(x))\n",
}


@pytest.fixture
def make_package(tmp_path, monkeypatch):
    """make_package(files, name='mypkg') writes a package under tmp_path and imports it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made = []

    def make(files, name="mypkg"):
        for rel, text in files.items():
            path = tmp_path / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        importlib.invalidate_caches()
        made.append(name)
        return importlib.import_module(name)

    yield make
    for name in made:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]


@delayed
def use_package(x):
    return [mypkg.double(x), mypkg.sub.quad(x)]  # noqa: F821 - a module pin


def test_package_with_relative_imports_runs_in_process(make_package):
    use_package.modules.mypkg = make_package(PACKAGE)
    assert use_package(2).run() == [4, 8]


def test_nested_subpackage_imports_its_parent_absolutely_and_relatively(make_package):
    mypkg = make_package(PACKAGE)

    @delayed
    def f(x):
        from mypkg.sub import quad

        return quad(x)

    f.modules.mypkg = mypkg
    assert f(3).run() == 12


def test_package_with_empty_init_gives_its_submodules_on_import(make_package):
    mypkg = make_package({"__init__.py": "", "helper.py": "def double(x):\n    return 2 * x\n"})

    @delayed
    def f(x):
        import mypkg.helper

        return mypkg.helper.double(x)

    f.modules.mypkg = mypkg
    assert f(5).run() == 10


def test_package_sources_are_readable_through_importlib_resources(make_package):
    mypkg = make_package(PACKAGE)

    @delayed
    def f():
        import importlib.resources

        root = importlib.resources.files(mypkg)
        return [sorted(p.name for p in root.iterdir()), root.joinpath("helper.py").read_text()]

    f.modules.mypkg = mypkg
    names, text = f().run()
    assert names == ["__init__.py", "helper.py", "sub"] and text == PACKAGE["helper.py"]


def test_a_definition_dict_works_without_any_file():
    @delayed
    def f(x):
        return mypkg.double(x)  # noqa: F821

    f.modules.mypkg = {"language": "python", "type": "interpreted", "code": PACKAGE}
    assert f(21).run() == 42


def test_running_leaves_no_module_in_the_users_sys_modules():
    @delayed
    def f():
        return mypkg.VERSION  # noqa: F821

    f.modules.mypkg = {"language": "python", "type": "interpreted", "code": PACKAGE}
    before = set(sys.modules)
    assert f().run() == "one"
    assert "mypkg" not in sys.modules
    assert [k for k in set(sys.modules) - before if k.startswith("__seamless_pins__.")] == []


def _version_tf(version):
    @delayed
    def f(tag):
        import time

        import mypkg

        first = mypkg.VERSION
        time.sleep(0.3)  # both executions are in flight at once
        return [tag, first, mypkg.VERSION]

    code = dict(PACKAGE, **{"__init__.py": f"VERSION = {version!r}\n"})
    f.modules.mypkg = {"language": "python", "type": "interpreted", "code": code}
    return f


def test_two_versions_of_one_package_run_side_by_side_in_threads():
    results = {}
    tfs = {v: _version_tf(v)(tag=v) for v in ("one", "two")}
    threads = [threading.Thread(target=lambda v=v: results.update({v: tfs[v].run()})) for v in tfs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"one": ["one", "one", "one"], "two": ["two", "two", "two"]}


# --- identity ---------------------------------------------------------------------------------


def _tf_checksum(definition):
    @delayed
    def f(x):
        return mypkg.double(x)  # noqa: F821

    f.modules.mypkg = definition
    return f(1).construct()


def test_a_one_character_edit_of_any_package_file_changes_the_checksum(make_package):
    base = _tf_checksum(module_definition(make_package(PACKAGE)))
    edited = dict(PACKAGE, **{"sub/__init__.py": PACKAGE["sub/__init__.py"] + " "})
    changed = {"language": "python", "type": "interpreted", "code": edited}
    assert _tf_checksum(changed) != base


def test_key_order_and_file_touches_do_not_change_the_checksum(make_package, tmp_path):
    mypkg = make_package(PACKAGE)
    base = _tf_checksum(mypkg)
    (tmp_path / "mypkg" / "helper.py").touch()
    reordered = {"language": "python", "type": "interpreted", "code": dict(reversed(list(PACKAGE.items())))}
    assert _tf_checksum(mypkg) == base == _tf_checksum(reordered)


def test_package_definition_holds_every_source_file_and_no_cache(make_package, tmp_path):
    mypkg = make_package(PACKAGE)
    (tmp_path / "mypkg" / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "mypkg" / "__pycache__" / "x.py").write_text("junk = 1\n")
    assert module_definition(mypkg)["code"] == PACKAGE


# --- what cannot be shipped -------------------------------------------------------------------


def test_a_compiled_extension_module_is_refused_with_one_line_naming_it():
    import _json

    with pytest.raises(ModulePinError) as info:
        use_package.modules.json_c = _json
    message = str(info.value)
    assert "'_json'" in message and "import it inside the function" in message and "\n" not in message


def test_a_namespace_package_is_refused(tmp_path, monkeypatch):
    (tmp_path / "nspkg").mkdir()
    (tmp_path / "nspkg" / "a.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    import nspkg

    try:
        with pytest.raises(ModulePinError, match="namespace package"):
            use_package.modules.nspkg = nspkg
    finally:
        del sys.modules["nspkg"]


# --- globals ----------------------------------------------------------------------------------


def triple(x):
    return 3 * x


class Box:
    def __init__(self, v):
        self.v = v


def test_a_function_global_travels_by_source():
    f = delayed("triple(x)")
    f.globals.triple = triple
    assert f(x=5).run() == 15


def test_a_class_global_travels_by_source():
    f = delayed("Box(x).v + 1")
    f.globals.Box = Box
    assert f(x=5).run() == 6


def test_an_object_whose_repr_round_trips_travels_by_repr():
    f = delayed("sorted(s)")
    f.globals.s = {3, 1, 2}
    assert f().run() == [1, 2, 3]


def test_a_value_global_keeps_its_mixed_pin():
    f = delayed("n + 1")
    f.globals.n = 41
    tf = f()
    tf.construct()
    assert tf._tf_dict["n"][:2] == ["mixed", "global"] and tf.run() == 42


def test_an_object_whose_repr_does_not_round_trip_is_refused_at_assignment_naming_it():
    f = delayed("o")
    with pytest.raises(ModulePinError, match=r"globals\.o: this 'object' object is not a value") as info:
        f.globals.o = object()
    assert "\n" not in str(info.value)


def test_a_pinned_module_has_a_file_name_relative_to_its_package():
    f = delayed("[mypkg.__file__, mypkg.helper.__file__]")
    f.modules.mypkg = {"language": "python", "type": "interpreted",
                       "code": {"__init__.py": "from . import helper\n", "helper.py": "X = 1\n"}}
    assert f().run() == ["mypkg/__init__.py", "mypkg/helper.py"]
