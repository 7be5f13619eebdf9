"""The architecture's boundaries, enforced: import direction, no cycles, small modules.

Read by a newcomer as the map of what may import what:
- nutgraf/ is the core library: it never imports flask, celery, service or worker;
- nutgraf.client and nutgraf.contract are a distribution of their own (clients/python/src):
  they import each other, the standard library, httpx, pydantic and tqdm, nothing else;
- service/ (the API) never loads the model stack, and uses worker/ only to enqueue;
- worker/ never imports service/;
- no import cycle anywhere, imports inside functions included;
- no module over MAX_MODULE_LINES lines, and no Lua inside Python strings.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import run_python

ROOT = Path(__file__).parents[1]
PACKAGES = ("nutgraf", "service", "worker")
# The client distribution's half of the `nutgraf` namespace, and all it may import.
CLIENT = ROOT / "clients" / "python"
CLIENT_SRC = CLIENT / "src"
CLIENT_TOP = "clients/python/src/nutgraf"
CLIENT_PACKAGES = ("nutgraf.client", "nutgraf.contract")
CLIENT_DEPENDENCIES = {"httpx", "pydantic", "tqdm"}
MAX_MODULE_LINES = 450
# Third-party stacks each layer must stay free of (checked statically, any nesting).
CORE_FORBIDDEN = {"flask", "werkzeug", "celery", "kombu", "gunicorn", "service", "worker"}
WORKER_FORBIDDEN = {"flask", "werkzeug", "service"}
# What the API may take from worker/: the Celery app it sends with and the one enqueue
# function; never the tasks, the runtime or the model stack behind them.
SERVICE_MAY_IMPORT_FROM_WORKER = {"worker.app", "worker.queue"}


def run_code(code: str) -> str:
    """Run `code` in a fresh interpreter at the repository root and return its stdout."""
    done = run_python("-c", code, cwd=ROOT, timeout_s=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def python_files(*tops: str) -> Iterator[Path]:
    """Every .py file under the given top-level folders."""
    for top in tops:
        yield from sorted((ROOT / top).rglob("*.py"))


def module_name(path: Path) -> str:
    """Dotted module name of a project file (a package's __init__ is the package)."""
    base = CLIENT_SRC if path.is_relative_to(CLIENT_SRC) else ROOT
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in python_files(*PACKAGES, CLIENT_TOP)}


def imported_names(path: Path) -> Iterator[tuple[str, int]]:
    """(module, line) for every import in the file, wherever it stands (lazy ones too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                # `from pkg import sub` imports the submodule when there is one.
                candidate = f"{source}.{alias.name}"
                yield (candidate if candidate in MODULES else source), node.lineno


def project_edges() -> dict[str, set[str]]:
    """Import graph between the project's own modules."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _ in imported_names(path):
            while target and target not in MODULES:  # `import a.b.c` of a name in a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_lazy_imports_included() -> None:
    cycles = find_cycles(project_edges())
    assert cycles == [], f"import cycles: {cycles}"


def test_the_layout_has_the_packages_of_the_architecture() -> None:
    for package in (
        "nutgraf.contract",
        "nutgraf.store",
        "nutgraf.models",
        "nutgraf.summarize",
        "nutgraf.webhooks",
        "nutgraf.client",
        "service.routes",
    ):
        assert package in MODULES and MODULES[package].name == "__init__.py", package


def _imports_from(top: str) -> Iterator[tuple[str, str, int]]:
    for path in python_files(top):
        for target, line in imported_names(path):
            yield f"{path.relative_to(ROOT)}:{line}", target, line


def test_core_imports_no_web_queue_service_or_worker() -> None:
    found = [
        (where, target)
        for top in ("nutgraf", CLIENT_TOP)
        for where, target, _ in _imports_from(top)
        if target.split(".")[0] in CORE_FORBIDDEN
    ]
    assert found == []


def test_the_client_distribution_imports_only_what_it_declares() -> None:
    """`pip install ./clients/python` alone must be enough for nutgraf.client to run."""
    found = [
        (where, target)
        for where, target, _ in _imports_from(CLIENT_TOP)
        if not (
            target.startswith(tuple(f"{package}." for package in CLIENT_PACKAGES))
            or target in CLIENT_PACKAGES
            or target.split(".")[0] in sys.stdlib_module_names | CLIENT_DEPENDENCIES
        )
    ]
    assert found == []
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    declared = {requirement.split(">")[0].split("=")[0] for requirement in project["dependencies"]}
    assert declared == CLIENT_DEPENDENCIES


def test_the_server_half_of_the_namespace_has_no_client_packages() -> None:
    for package in CLIENT_PACKAGES:
        assert not (ROOT / package.replace(".", "/")).exists(), package
        assert (CLIENT_SRC / package.replace(".", "/") / "__init__.py").exists(), package


def test_both_distributions_ship_the_same_namespace_file() -> None:
    """A pkgutil-style namespace: either distribution's nutgraf/__init__.py may be the one
    that runs (or, installed side by side, the one left on disk)."""
    server, client = ROOT / "nutgraf" / "__init__.py", CLIENT_SRC / "nutgraf" / "__init__.py"
    assert server.read_bytes() == client.read_bytes()
    assert "extend_path(__path__, __name__)" in server.read_text()


def test_the_client_tests_pin_pytest_like_the_server() -> None:
    def pytest_pin(pyproject: Path) -> list[str]:
        extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
        return [r for r in extras["test"] if r.startswith("pytest==")]

    assert pytest_pin(CLIENT / "pyproject.toml") == pytest_pin(ROOT / "pyproject.toml")


def test_worker_never_imports_the_web_side() -> None:
    found = [
        (where, target)
        for where, target, _ in _imports_from("worker")
        if target.split(".")[0] in WORKER_FORBIDDEN
    ]
    assert found == []


def test_service_takes_only_the_enqueue_side_of_worker() -> None:
    found = [
        (where, target)
        for where, target, _ in _imports_from("service")
        if target.split(".")[0] == "worker" and target not in SERVICE_MAY_IMPORT_FROM_WORKER
    ]
    assert found == []


def test_core_imports_load_no_web_queue_or_model_stack() -> None:
    code = (
        "import nutgraf.contract, nutgraf.store, nutgraf.models.specs, nutgraf.summarize, "
        "nutgraf.settings, nutgraf.text, nutgraf.webhooks, nutgraf.client, nutgraf.cli; "
        "import sys; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'flask','celery','torch','transformers','service','worker'}))"
    )
    assert ast.literal_eval(run_code(code).strip()) == []


def test_api_imports_no_model_stack() -> None:
    # numpy too: the API loads it only when an extractive summary is asked for.
    code = (
        "from service import create_app; from nutgraf.settings import Settings; "
        "create_app(Settings(redis_url='redis://127.0.0.1:1/0')); import sys; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'torch','transformers','numpy'}))"
    )
    assert ast.literal_eval(run_code(code).strip()) == []


@pytest.mark.parametrize("top", [*PACKAGES, "clients", "bench", "tests"])
def test_no_module_over_the_line_limit(top: str) -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in python_files(top)
    }
    assert {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def _string_constants(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def test_no_lua_inside_python_strings() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files(*PACKAGES, CLIENT_TOP, "bench")
        if any("redis.call(" in s or "redis.pcall(" in s for s in _string_constants(path))
    ]
    assert offenders == []


def test_every_lua_script_names_its_keys_and_arguments() -> None:
    scripts = sorted((ROOT / "nutgraf").rglob("*.lua"))
    assert scripts, "the store's Lua scripts live in .lua files"
    for script in scripts:
        text = script.read_text()
        header = "\n".join(
            line for line in text.splitlines()[:30] if line.lstrip().startswith("--")
        )
        assert header, f"{script.name}: no header comment"
        for word in ("KEYS", "ARGV"):
            if f"{word}[" in text:
                assert word in header, f"{script.name}: uses {word} without naming them on top"
