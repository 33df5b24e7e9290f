"""tf checksums of ordinary seamless-run commands, recorded from upstream's `--dry -j` (SPEC §13)."""

import json
import os
from pathlib import Path

import pytest

from seamless_transformer.bashrun.prepare import RunOptions, prepare

FIXTURE = json.loads((Path(__file__).parent.parent / "data" / "upstream_dry.json").read_text())
_FLAGS_WITH_VALUE = {"--var": "vars", "--metavar": "metavars", "-cp": "captures"}
_MAPPINGS = {"-ms": "strip", "-mx": "extension"}


def _options_and_words(argv):
    options = RunOptions()
    argv = list(argv)
    while argv and argv[0].startswith("-"):
        flag = argv.pop(0)
        if flag in _MAPPINGS:
            options.mapping = _MAPPINGS[flag]
        else:
            getattr(options, _FLAGS_WITH_VALUE[flag]).append(argv.pop(0))
    return options, argv


def _write_data_files(root: Path):
    for rel, text in FIXTURE["data_files"].items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel in FIXTURE["executable"]:
        os.chmod(root / rel, 0o755)


def test_fixture_holds_at_least_20_commands():
    assert len(FIXTURE["commands"]) >= 20


@pytest.mark.parametrize("case", FIXTURE["commands"], ids=lambda case: " ".join(case["argv"]))
def test_prepare_reproduces_upstream_dry_tf(case):
    _write_data_files(Path.cwd())
    options, words = _options_and_words(case["argv"])
    job = prepare(words, options)
    assert job.code == case["code"]
    assert job.tf_checksum == case["tf"]
