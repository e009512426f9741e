"""The package's boundaries: no adapter imports another adapter, no module imports a
private name of another module, and the layers point one way."""

from __future__ import annotations

import ast
from pathlib import Path

from imcli import platforms

PACKAGE = Path(__file__).resolve().parent.parent / "imcli"


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) of every import in a file; name None for ``import module``."""
    tree = ast.parse(path.read_text("utf-8"))
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
    return out


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = PACKAGE.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_no_adapter_imports_another_adapter():
    adapters = {f"imcli.platforms.{m}" for m in platforms._MODULES}
    wrong = []
    for name in sorted(adapters):
        path = PACKAGE / "platforms" / (name.rsplit(".", 1)[1] + ".py")
        for module, imported in _imports(path):
            full = f"{module}.{imported}" if imported else module
            for other in adapters - {name}:
                if module == other or full == other:
                    wrong.append(f"{name} imports {other}")
    assert wrong == []


def test_no_module_imports_a_private_name_of_another():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = _module_name(path)
        for module, imported in _imports(path):
            if not module.startswith("imcli") or module == me or imported is None:
                continue
            dunder = imported.startswith("__") and imported.endswith("__")  # __version__
            if imported.startswith("_") and not dunder and not _is_module(f"{module}.{imported}"):
                wrong.append(f"{me} imports {module}.{imported}")
    assert wrong == []


def test_the_http_layer_does_not_import_the_platforms():
    layer = ("http", "retry", "calls", "replies", "httplog", "proxies", "httpx_lazy", "dryrun")
    for module in (*(f"imcli.{m}" for m in layer), "imcli.ratelimit", "imcli.tokens"):
        path = PACKAGE / (module.split(".", 1)[1] + ".py")
        assert not [m for m, _ in _imports(path) if m.startswith("imcli.platforms")], module
