"""The architecture as the folders show it, checked: data flows one way and no module imports itself back.

    prompts, errors, config, atomic  (foundation: any layer may use them)
    corpus -> retrieval -> verify -> answer -> report -> service.py -> ui -> app.py
A module may import from its own layer and the layers before it, never from a later one.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOUNDATION = {"prompts", "errors", "config", "atomic"}
LAYERS = ["corpus", "retrieval", "verify", "answer", "report", "service", "ui", "app"]
SAME_LAYER = {"visitors": "service"}  # visitors.py: event policy the service holds


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    """The project modules `path` imports (module level or inside functions)."""
    own = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {p.stem for p in ROOT.glob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in own)
    return found


def graph() -> dict[str, set[str]]:
    files = [ROOT / f"{name}.py" for name in ("app", "service", "visitors", *FOUNDATION)]
    files += [p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")]
    modules = {module_name(p): p for p in files if p.exists()}
    return {m: {i for i in project_imports(p) if i in modules and i != m} for m, p in modules.items()}


def test_each_layer_imports_only_what_comes_before_it():
    wrong = []
    for module, imports in graph().items():
        layer = SAME_LAYER.get(module.split(".")[0], module.split(".")[0])
        if layer in FOUNDATION:
            wrong += [(module, i) for i in imports if i.split(".")[0] not in FOUNDATION]
            continue
        rank = LAYERS.index(layer)
        wrong += [(module, i) for i in imports
                  if i.split(".")[0] not in FOUNDATION
                  and LAYERS.index(SAME_LAYER.get(i.split(".")[0], i.split(".")[0])) > rank]
    assert wrong == []


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                cycles.append(path[path.index(n):] + [n] if n in path else [m, n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_check_sees_a_backwards_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from ui.render import ui_text\nimport corpus.model\n", encoding="utf-8")
    assert project_imports(bad) >= {"ui.render", "corpus.model"}
