"""The layers stay layers: records < store < library < flows < apps, with no import circle in the library.

Every ``import`` of every module under ``pipeline/`` is read with ``ast``, those inside functions
too, so an import tucked into a function to dodge a circle is seen like any other.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Bottom to top. A module may import modules of its own layer or of a lower one, never a higher one.
LAYERS = ("records", "store", "library", "flows", "app")
RECORDS = frozenset({
    "pipeline", "pipeline.errors", "pipeline.records", "pipeline.config", "pipeline.rules", "pipeline.text",
    "pipeline.registry", "pipeline.keys", "pipeline.tallies",
})
FORBIDDEN_IN_LIBRARY = ("prefect", "flows", "fastapi", "starlette", "typer", "uvicorn", "nkpipe")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((REPO / package).rglob("*.py"))}


def layer(module: str) -> str:
    if module.startswith("nkpipe"):
        return "app"
    if module.startswith("flows"):
        return "flows"
    if module in RECORDS:
        return "records"
    if module == "pipeline.store" or module.startswith("pipeline.store."):
        return "store"
    return "library"


def imported(path: Path, known: set[str]) -> set[str]:
    """The project modules one file imports, anywhere in the file (``from a.b import c`` is a.b.c if that is a module)."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {name for name in found if name.split(".")[0] in ("pipeline", "flows", "nkpipe")}


def graph() -> dict[str, set[str]]:
    known = {**modules("pipeline"), **modules("flows"), **modules("nkpipe")}
    return {name: imported(path, set(known)) for name, path in known.items()}


def cycle_in(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle among ``edges`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_architecture_library_has_no_import_circle():
    edges = {name: {t for t in targets if t.startswith("pipeline")}
             for name, targets in graph().items() if name.startswith("pipeline")}
    assert cycle_in(edges) is None, " -> ".join(cycle_in(edges))


def test_architecture_no_module_imports_a_higher_layer():
    wrong = [f"{source} ({layer(source)}) imports {target} ({layer(target)})"
             for source, targets in graph().items() for target in sorted(targets)
             if LAYERS.index(layer(target)) > LAYERS.index(layer(source))]
    assert wrong == []


def test_architecture_cycle_finder_finds_a_circle_and_the_layers_are_where_the_readme_says():
    """The checks above would pass vacuously if the graph were empty or the finder blind."""
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None
    edges = graph()
    assert "pipeline.store.db" in edges["pipeline.store.ledger"]
    assert "pipeline.store.correction_rows" in edges["pipeline.store.persist"]
    assert {layer("pipeline.records"), layer("pipeline.store.persist"), layer("pipeline.facts"),
            layer("flows.nightly"), layer("nkpipe.cli")} == set(LAYERS)
    assert "flows.nightly" in edges["nkpipe.cli"]  # the app may use the flows; nothing below may


def test_architecture_importing_the_library_loads_no_prefect_flows_web_or_cli():
    """In a fresh process, importing every library module loads none of them.

    spaCy itself imports Typer (for its own command line), so what counts is what the library
    adds to what ``import spacy`` already loaded; the next test checks the source for Typer.
    """
    names = [name for name in modules("pipeline") if not name.startswith("pipeline.store.migrations")]
    script = (
        "import importlib, json, sys\n"
        "import spacy\n"
        "before = set(sys.modules)\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    added = json.loads(done.stdout.strip().splitlines()[-1])
    assert len([m for m in added if m.startswith("pipeline.")]) >= len(names) - 1
    assert [m for m in added if m.split(".")[0] in FORBIDDEN_IN_LIBRARY] == []


def test_architecture_library_source_never_imports_prefect_flows_web_or_cli():
    wrong = []
    for name, path in modules("pipeline").items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            wrong += [f"{name} imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_IN_LIBRARY]
    assert wrong == []
