"""The import layering of the README's layout table: imports only go downwards, no cycles, click only in cli/."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "seamless_transformer"

LAYERS = {
    "errors": 0, "_util": 0,
    "checksum": 1, "celltypes": 1, "config": 1,
    "identity": 2,
    "store": 3,
    "bashrun": 4,
    "execution": 5,
    "engine": 6,
    "pool": 7, "dask": 7, "jobserver": 7, "backends": 7,
    "api": 8, "queue": 8,
    "cli": 9,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = rel.parts
        if parts == ("__init__",):
            continue  # the lazy public facade
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _layer(modname: str) -> int:
    return LAYERS[modname.split(".")[0]]


def _imports(modname, path, top_level_only):
    """Package-internal modules imported by `path` (relative and absolute)."""
    tree = ast.parse(path.read_text())
    package = modname.split(".")[:-1] if path.name != "__init__.py" else modname.split(".")
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [".".join(base + [a.name]) for a in node.names] if not node.module else (
                    [target] + [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
                )
                found.update(n for n in names if n)
            elif node.module and node.module.startswith("seamless_transformer"):
                target = node.module.partition(".")[2]
                found.update(f"{target}.{a.name}".lstrip(".") for a in node.names)
                found.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("seamless_transformer."):
                    found.add(alias.name.split(".", 1)[1])
    return found


def _third_party(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module.split(".")[0]




def test_every_module_belongs_to_a_layer():
    unknown = [m for m in MODULES if m.split(".")[0] not in LAYERS]
    assert unknown == []


@pytest.mark.parametrize("modname", sorted(MODULES))
def test_imports_only_go_downwards(modname):
    upward = [
        target for target in _imports(modname, MODULES[modname], top_level_only=False)
        if target.split(".")[0] in LAYERS and _layer(target) > _layer(modname)
    ]
    assert upward == [], f"{modname} (L{_layer(modname)}) imports upward: {upward}"


@pytest.mark.parametrize("modname", sorted(MODULES))
def test_click_is_imported_only_by_the_cli(modname):
    if modname.startswith("cli"):
        return
    assert "click" not in set(_third_party(MODULES[modname]))


def test_no_import_cycles_between_modules_counting_function_level_imports():
    graph = {m: {t for t in _imports(m, p, top_level_only=False) if t in MODULES and t != m}
             for m, p in MODULES.items()}
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        if node in done:
            return
        if node in visiting:
            cycles.append(trail[trail.index(node):] + [node])
            return
        visiting.add(node)
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


@pytest.mark.parametrize("modname", sorted(m for m in MODULES if not m.startswith("cli")))
def test_nothing_below_the_cli_imports_from_it(modname):
    into_cli = [t for t in _imports(modname, MODULES[modname], top_level_only=False) if t.split(".")[0] == "cli"]
    assert into_cli == []


def test_the_cli_is_the_only_importer_of_click():
    importers = sorted(m for m, path in MODULES.items() if "click" in set(_third_party(path)))
    assert importers and all(m.startswith("cli.") for m in importers)
