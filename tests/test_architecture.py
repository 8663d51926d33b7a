"""The shape of the code, read from its imports (docs/architecture.md, "Apps and their order").

- The apps depend one way: core <- tenants <- crm <- telephony <- messaging <- softphone. A module may
  import its own app and the apps below it, never one above.
- No module of ours imports another of ours inside a function (the way a circle is hidden), except
  an AppConfig.ready() connecting signals.
- No circle among modules, even within one app.
- Services never import tasks: they enqueue through their app's seam (jobs.py), by task name.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["core", "tenants", "crm", "telephony", "messaging", "softphone"]
RANK = {app: rank for rank, app in enumerate(ORDER)}

# Known departures still being straightened out (issue 14). Each entry must still be true: a fixed
# one fails the test until it is taken off the list, so the list only shrinks.
KNOWN: set[tuple[str, str, str]] = set()


def _modules() -> dict[str, Path]:
    found = {}
    for app in ORDER:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom | ast.Import, path: Path) -> list[str]:
    """The modules of ours an import statement names (a `from x import y` may name module x.y)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = [f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target for alias in node.names]
    ours = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            ours.append(name)
    return ours


def _visit(node, module: str, path: Path, function: str, found: list) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            for target in _resolve(module, child, path):
                if target != module:
                    found.append((module, target, bool(function), function))
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _visit(child, module, path, child.name, found)
        elif isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
            continue  # annotations only
        else:
            _visit(child, module, path, function, found)


def _imports() -> list[tuple[str, str, bool, str]]:
    """(importer, imported, inside a function, enclosing function) for every import of ours."""
    found = []
    for module, path in MODULES.items():
        _visit(ast.parse(path.read_text(), str(path)), module, path, "", found)
    return found


IMPORTS = _imports()


def _app(module: str) -> str:
    return module.split(".")[0]


def _violations() -> set[tuple[str, str, str]]:
    found = set()
    for importer, imported, inside, function in IMPORTS:
        if RANK[_app(imported)] > RANK[_app(importer)]:
            found.add(("upward", importer, imported))
        if inside and _app(importer) != "softphone" and not (importer.endswith(".apps") and function == "ready"):
            found.add(("in-function", importer, imported))
        services = ".services." in importer + "." or importer.endswith(".services")
        if services and imported.split(".")[-1] == "tasks":
            found.add(("service-imports-task", importer, imported))
    graph = defaultdict(set)
    for importer, imported, inside, _ in IMPORTS:
        if not inside and not imported.startswith(importer + "."):
            graph[importer].add(imported)
    for cycle in _cycles(graph):
        found.add(("circle", cycle[0], " -> ".join(cycle)))
    return found


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []
    counter = [0]

    def connect(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return result


def test_the_reader_sees_every_module():
    assert "messaging.services.outbound" in MODULES and "core.ids" in MODULES
    assert any(imported == "core.ids" for _, imported, _, _ in IMPORTS)


def test_dependencies_point_one_way_without_hidden_imports_or_circles():
    found = _violations()
    new = sorted(found - KNOWN)
    assert not new, "imports against the architecture (docs/architecture.md):\n" + "\n".join(map(str, new))


def test_the_list_of_known_departures_only_shrinks():
    fixed = sorted(KNOWN - _violations())
    assert not fixed, "fixed: take these off KNOWN in tests/test_architecture.py:\n" + "\n".join(map(str, fixed))


@pytest.mark.parametrize("source, expected", [
    ("import messaging.tasks\n", ("upward", "tenants.fake", "messaging.tasks")),
    ("def f():\n    from tenants import models\n", ("in-function", "tenants.fake", "tenants.models")),
])
def test_the_checks_catch_what_they_are_for(monkeypatch, tmp_path, source, expected):
    fake = tmp_path / "fake.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "tenants.fake", fake)
    probe = [found for found in _imports() if found[0] == "tenants.fake"]
    monkeypatch.setitem(globals(), "IMPORTS", probe)
    assert expected in _violations()


# Carriers and platforms: each is adapters only (docs/architecture.md, "Adding a carrier"). Their
# modules, and the vendors' SDKs, are imported by the adapter packages and the registries there,
# by nothing else of the product (softphone, the simulator and the demo, stands in for the vendors).
ADAPTER_PACKAGES = ("telephony.providers", "messaging.providers", "telephony.platforms")
VENDOR_SDKS = ("twilio",)


def _carrier_modules() -> set[str]:
    return {name for name in MODULES if name.startswith(tuple(p + "." for p in ADAPTER_PACKAGES))
            and name.rsplit(".", 1)[1] not in ("base", "voice")}


def _sdk_imports() -> list[tuple[str, str]]:
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [(module, name) for name in names if name.split(".")[0] in VENDOR_SDKS]
    return found


def _domain(module: str) -> bool:
    return not module.startswith((*ADAPTER_PACKAGES, "softphone"))


def test_the_domain_imports_nothing_carrier_specific():
    carriers = _carrier_modules()
    assert {"telephony.providers.twilio", "telephony.providers.vonage", "telephony.providers.bandwidth",
            "messaging.providers.vonage", "messaging.providers.bandwidth", "telephony.platforms.vapi"} <= carriers
    crossing = sorted({(importer, imported) for importer, imported, _, _ in IMPORTS
                       if imported in carriers and _domain(importer)})
    assert crossing == [], "domain modules importing a carrier's adapter (ask the registry instead)"
    sdk = sorted({(module, name) for module, name in _sdk_imports() if _domain(module)
                  and not module.startswith("telephony.providers")})
    assert sdk == [], "vendor SDKs imported outside the adapters"
