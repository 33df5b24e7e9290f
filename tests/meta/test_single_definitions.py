"""No concept is defined twice: each of these names is defined at module level (def, class or
assignment) in one module only; the others import it."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "seamless_transformer"

ONE_DEFINITION = {
    "is_dunder": "identity.py",  # SPEC §2.4: every key that starts with "__"
    "TEXT_CELLTYPES": "celltypes.py",  # SPEC §2.2
    "COMPRESSION_SUFFIXES": "checksum.py",  # SPEC §2.3
    "split_compression": "checksum.py",
    "code_buffer": "identity.py",  # the code pin's buffer: the text celltype rule
    "hash_file": "checksum.py",
    "_hash_file": "store/paths.py",  # a file's canonical (decompressed) bytes, memoized by stat
    "SETTINGS_ENV": "config.py",
}


def _definitions(name):
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            defined = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined = [node.name]
            elif isinstance(node, ast.Assign):
                defined = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if name in defined:
                yield path.relative_to(PACKAGE).as_posix()


@pytest.mark.parametrize("name", sorted(ONE_DEFINITION))
def test_defined_in_one_module_only(name):
    assert list(_definitions(name)) == [ONE_DEFINITION[name]]


def test_the_text_celltypes_are_those_of_the_spec():
    from seamless_transformer.celltypes import TEXT_CELLTYPES

    assert TEXT_CELLTYPES == {"text", "python", "ipython", "yaml"}
