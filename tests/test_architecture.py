"""The layers of app/ and what each may import (docs/architecture.md, "Layers"), checked on the source:
every import statement of every module, function-level and TYPE_CHECKING ones included.

    top          app.main, app.__main__, app.installed and the other modules at app/'s root; workers
    agents       app.agents.<name> (one file per agent, and their shared helpers)
    domains      every other package: leads, deals, email, reviews, pipelines, invoices, coaching, ...;
                 tenants (its settings validate every domain's section) and health
    engine       app.runs, app.llm, app.knowledge, app.prompts; the agent interface app.agents.base and
                 app.agents.registry
    platform     app.auth, app.audit, app.users, app.api_keys
    foundation   app.core, app.models

A module imports its own layer and those below it, never one above. Within the engine, app.runs imports
none of the other engine packages (they plug into it through app.runs.hooks and the agent registry), and
the agent interface imports only the foundation: agents and domains register themselves with it. A
package added later is a domain unless it is named here, so the engine cannot come to depend on it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("foundation", "platform", "engine", "domains", "agents", "top")
PACKAGES = {
    "core": "foundation", "models": "foundation",
    "auth": "platform", "audit": "platform", "users": "platform", "api_keys": "platform",
    "runs": "engine", "llm": "engine", "knowledge": "engine", "prompts": "engine",
}
AGENT_INTERFACE = {"app.agents.base", "app.agents.registry"}
ENGINE_PEERS_OF_RUNS = ("app.llm", "app.knowledge", "app.prompts")
# The registry reads the manifest of installed module names (it imports none of those modules itself).
ALLOWED = {("app.agents.registry", "app.installed")}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "workers" or len(parts) == 1 or (ROOT / "app" / f"{parts[1]}.py").exists():
        return "top"  # workers, app itself and the modules at app/'s root
    package = parts[1]
    if package == "agents":
        return "engine" if ".".join(parts[:3]) in AGENT_INTERFACE else "agents"
    return PACKAGES.get(package, "domains")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every module `module` imports from app/, as dotted names (`from app.x import y` counts as app.x.y
    when y is a module, else app.x)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*candidate.split("."))).is_dir()
                found.add(candidate if is_module else base)
    return {name for name in found if name.split(".")[0] == "app"}


def _modules() -> list[tuple[str, Path]]:
    paths = [*sorted((ROOT / "app").rglob("*.py")), *sorted((ROOT / "workers").rglob("*.py"))]
    return [(_module_name(path), path) for path in paths]


def _violations() -> list[str]:
    found = []
    for module, path in _modules():
        for imported in sorted(_imports(path, module)):
            if (module, imported) in ALLOWED:
                continue
            if LAYERS.index(layer(imported)) > LAYERS.index(layer(module)):
                found.append(f"{module} ({layer(module)}) imports {imported} ({layer(imported)})")
            elif module.startswith("app.runs.") and imported.startswith(ENGINE_PEERS_OF_RUNS):
                found.append(f"{module} imports {imported}: the engine's other packages plug into app.runs")
            elif module in AGENT_INTERFACE and layer(imported) != "foundation" and imported not in AGENT_INTERFACE:
                found.append(f"{module} imports {imported}: what it runs registers itself with it")
    return found


def test_no_module_imports_a_layer_above_its_own():
    assert _violations() == []


@pytest.mark.parametrize(("module", "expected"), [
    ("app.core.context", "foundation"), ("app.models.run", "foundation"), ("app.auth.permissions", "platform"),
    ("app.runs.service", "engine"), ("app.agents.registry", "engine"), ("app.agents.echo", "agents"),
    ("app.leads.service", "domains"), ("app.some_future_domain.service", "domains"), ("app.installed", "top"),
    ("app.main", "top"), ("workers.celery_app", "top"),
])
def test_layers_are_assigned_as_documented(module, expected):
    assert layer(module) == expected


def test_the_checker_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text(
        "import app.llm.service\n"
        "from app.knowledge import service\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from app.agents.echo import EchoAgent\n"
        "def later():\n"
        "    from app.leads.service import create_lead\n")
    assert _imports(source, "app.runs.probe") == {
        "app.llm.service", "app.knowledge.service", "app.agents.echo", "app.leads.service"}
