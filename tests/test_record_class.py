"""_util.record_class, the dataclass of the command-line fast path, and _util.lazy_logger."""

import subprocess
import sys

import pytest

from seamless_transformer._util import FrozenInstanceError, field, record_class, record_replace


@record_class
class Point:
    x: int
    y: int = 0
    tags: list = field(default_factory=list)


@record_class(frozen=True)
class Key:
    name: str
    note: str = field(default="", compare=False)


def test_fields_are_set_by_position_or_keyword_with_defaults_and_fresh_factories():
    a, b = Point(1), Point(2, y=3)
    assert (a.x, a.y, b.x, b.y) == (1, 0, 2, 3)
    a.tags.append("t")
    assert b.tags == []


def test_a_missing_or_unknown_argument_is_a_type_error():
    with pytest.raises(TypeError, match="missing required argument 'x'"):
        Point()
    with pytest.raises(TypeError, match="'z'"):
        Point(1, z=2)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        Point(1, 2, [], 4)


def test_equality_and_repr_follow_the_fields():
    assert Point(1, 2) == Point(1, 2) != Point(1, 3)
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"


def test_a_frozen_record_refuses_assignment_and_hashes_its_compared_fields():
    key = Key("a", note="first")
    with pytest.raises(FrozenInstanceError):
        key.name = "b"
    assert key == Key("a", note="second") and hash(key) == hash(Key("a"))
    assert {Key("a"): 1}[Key("a", "x")] == 1


def test_record_replace_copies_a_frozen_record_with_the_changed_fields_only():
    key = Key("a", note="first")
    assert (record_replace(key, note="second").name, record_replace(key, note="second").note) == ("a", "second")
    assert key.note == "first"
    with pytest.raises(TypeError, match="'z'"):
        record_replace(key, z=1)


def test_a_warning_through_a_lazy_logger_is_shown_with_the_commands_prefix():
    code = ("from seamless_transformer.cli._common import setup_logging\n"
            "from seamless_transformer._util import lazy_logger\n"
            "import sys\n"
            "setup_logging('seamless-run', lazy=True)\n"
            "log = lazy_logger('seamless_transformer.x')\n"
            "log.info('not shown')\n"
            "print('logging' in sys.modules, file=sys.stderr)\n"
            "log.warning('shown %s', 1)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr == "False\nseamless-run: warning: shown 1\n"
