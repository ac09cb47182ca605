"""The house rules of imports: scripts import modules, never another script, and the project's
modules import one another in one direction (no cycle), function-level imports included."""
from __future__ import annotations

import ast

from conftest import REPO

SCRIPTS = {"preprocess", "train", "evaluate", "main", "crossval", "personalize", "export", "benchmark",
           "spellbench"}  # the programs users run (and any file with a __main__ block, found below)


def project_files() -> dict[str, ast.Module]:
    """Every top-level .py file of the project, parsed, by module name."""
    return {path.stem: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in sorted(REPO.glob("*.py"))}


def is_script(tree: ast.Module) -> bool:
    """The file has an `if __name__ == "__main__":` block."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [node.test.left, *node.test.comparators]
            if any(isinstance(n, ast.Name) and n.id == "__name__" for n in names) and any(
                    isinstance(n, ast.Constant) and n.value == "__main__" for n in names):
                return True
    return False


def imported(tree: ast.Module, project: set[str]) -> set[str]:
    """The project modules a file imports anywhere in it (module level and inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & project


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    files = project_files()
    return {name: imported(tree, set(files)) - {name} for name, tree in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None (depth-first search)."""
    done: set[str] = set()

    def visit(path: list[str]) -> list[str] | None:
        for target in sorted(graph[path[-1]]):
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


def test_no_file_imports_a_script():
    graph = import_graph()
    programs = scripts(project_files())
    offences = [f"{name}.py imports {target}.py" for name in sorted(graph) for target in sorted(graph[name] & programs)]
    assert not offences, "scripts are imported (move what they share into a module): " + "; ".join(offences)


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(f"{name}.py" for name in cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"b"}}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": {"b"}}) == ["b", "c", "b"]
