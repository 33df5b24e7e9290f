"""The one validator of paths that come from data (index keys, pin names, queue targets)."""

import os

import pytest

from seamless_transformer._util import check_relpath, confined_join
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
