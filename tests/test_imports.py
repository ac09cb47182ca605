"""The house rules: the root holds what users run (scripts) and the seed's two modules; the rest of
the library lives in folders by stage.  Scripts import modules, never another script, and the
project's modules import one another in one direction (no cycle), function-level imports included."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

SCRIPTS = {"preprocess", "train", "evaluate", "main", "crossval", "personalize", "export", "benchmark",
           "spellbench", "web"}  # the programs users run (and any file with a __main__ block, found below)
ROOT_MODULES = {"model", "data_loader"}  # the seed's model and dataset: the only modules left at the root
MAX_ROOT_FILES = 16
SKIPPED = {"tests", "node_modules", "web", "docs", "words", "samples"}


def module_name(path: Path) -> str:
    """`hand/keypoints.py` -> `hand.keypoints`; a folder's `__init__.py` -> the folder's name."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files() -> dict[str, ast.Module]:
    """Every .py file of the project (the root and its folders, not tests), parsed, by module name."""
    paths = [p for p in REPO.rglob("*.py") if not set(p.relative_to(REPO).parts[:-1]) & SKIPPED
             and not any(part.startswith(".") for part in p.relative_to(REPO).parts)]
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(paths)}


def is_script(tree: ast.Module) -> bool:
    """The file has an `if __name__ == "__main__":` block."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [node.test.left, *node.test.comparators]
            if any(isinstance(n, ast.Name) and n.id == "__name__" for n in names) and any(
                    isinstance(n, ast.Constant) and n.value == "__main__" for n in names):
                return True
    return False


def resolve(name: str, project: set[str]) -> str | None:
    """The project module `name` (dotted) refers to: itself or its longest project prefix."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in project:
            return ".".join(parts[:k])
    return None


def imported(tree: ast.Module, project: set[str]) -> set[str]:
    """The project modules a file imports anywhere in it (module level and inside functions);
    `from folder import module` counts as importing that module."""
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {resolve(alias.name, project) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, "relative imports: the rules below assume absolute ones"
            found |= {resolve(f"{node.module}.{alias.name}", project) for alias in node.names}
    return {name for name in found if name is not None}


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (a folder's module may import its folder's
    `__init__`, which holds no code)."""
    files = project_files()
    return {name: imported(tree, set(files)) - {name} for name, tree in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None (depth-first search)."""
    done: set[str] = set()

    def visit(path: list[str]) -> list[str] | None:
        for target in sorted(graph.get(path[-1], ())):
            if target in path:
                return path[path.index(target):] + [target]
            if target not in done and (cycle := visit(path + [target])):
                return cycle
        done.add(path[-1])
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit([start])):
            return cycle
    return None


def scripts(files: dict[str, ast.Module]) -> set[str]:
    """SCRIPTS and every file with a __main__ block."""
    return SCRIPTS | {name for name, tree in files.items() if is_script(tree)}


def test_the_scripts_are_found():
    files = project_files()
    missing = SCRIPTS - set(files)
    assert not missing, f"scripts not found (update SCRIPTS): {', '.join(sorted(missing))}"
    assert {"train", "crossval", "benchmark"} <= {name for name, tree in files.items() if is_script(tree)}


def test_the_root_holds_the_scripts_and_the_seed_modules_only():
    root = {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in REPO.glob("*.py")}
    assert len(root) <= MAX_ROOT_FILES, f"{len(root)} .py files at the root (at most {MAX_ROOT_FILES})"
    modules = {name for name, tree in root.items() if not is_script(tree)}
    assert modules == ROOT_MODULES, f"modules at the root other than the seed's (move them into a folder): " \
                                    f"{', '.join(sorted(modules - ROOT_MODULES)) or '(none)'}"


def test_no_script_lives_in_a_folder():
    files = project_files()
    misplaced = sorted(name for name, tree in files.items() if "." in name and is_script(tree))
    assert not misplaced, f"scripts belong at the root: {', '.join(misplaced)}"


def test_no_file_imports_a_script():
    graph = import_graph()
    programs = scripts(project_files())
    offences = [f"{name} imports {target}.py" for name in sorted(graph) for target in sorted(graph[name] & programs)]
    assert not offences, "scripts are imported (move what they share into a module): " + "; ".join(offences)


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_sees_folder_imports():
    graph = import_graph()
    assert "hand.keypoints" in graph["preprocess"]
    assert "hand.model_files" in graph["hand.keypoints"]
    assert "model" in graph["classifiers.classifier"]


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": {"b"}}) == ["b", "c", "b"]
