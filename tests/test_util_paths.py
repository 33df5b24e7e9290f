"""The one validator of paths that come from data (index keys, pin names, queue targets)."""

import os

import pytest

from seamless_transformer._util import check_relpath, check_relpaths, confined_join
from seamless_transformer.errors import UsageError


@pytest.mark.parametrize("path", ["a.txt", "sub/a.txt", "a..b", "...", ".hidden/x"])
def test_a_relative_path_inside_is_accepted(path):
    assert check_relpath(path) == path


@pytest.mark.parametrize(
    "path, reason",
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../x", "contains '..'"),
        ("a/../../x", "contains '..'"),
        ("a//b", "empty component"),
        ("a/", "empty component"),
        ("./a", "contains '.'"),
        ("a\0b", "contains NUL"),
        (None, "not a string"),
        ("d/" + "n" * 256, "a component longer than 255 bytes"),
        ("\u00e9" * 128, "a component longer than 255 bytes"),
    ],
)
def test_an_unsafe_path_is_a_usage_error_naming_it_and_why(path, reason):
    with pytest.raises(UsageError, match=f"^key: unsafe path .*\\({reason}\\)$"):
        check_relpath(path, "key")


def test_a_symlinked_directory_leading_outside_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "root" / "sub")
    with pytest.raises(UsageError, match="a symlink leads outside the target"):
        confined_join(str(tmp_path / "root"), "sub/x.txt")


def test_a_symlinked_directory_inside_the_root_is_accepted(tmp_path):
    (tmp_path / "root" / "real").mkdir(parents=True)
    os.symlink("real", tmp_path / "root" / "alias")
    assert confined_join(str(tmp_path / "root"), "alias/x.txt") == str(tmp_path / "root" / "alias" / "x.txt")


def test_a_255_byte_name_is_accepted():
    assert check_relpath("n" * 255) == "n" * 255


def test_a_path_that_is_a_directory_of_another_is_refused_naming_both():
    with pytest.raises(UsageError, match="^index: unsafe path 'x/y/z' \\('x' is a file too\\)$"):
        check_relpaths(["x/y/z", "x", "w"], "index")


def test_paths_that_share_a_directory_are_accepted():
    check_relpaths(["x/a", "x/b", "xa", "x.b/c"])
