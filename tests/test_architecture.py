"""Each package's public interface is its `__init__`: other packages import through it, and it
exports only what they use. (The layering itself is import-linter's, in pyproject.toml.)"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "drivers", "rules", "gateway", "simulators", "firegw")


@dataclass(frozen=True)
class Import:
    importer: str
    module: str
    name: str | None
    line: int

    def __str__(self) -> str:
        what = f"from {self.module} import {self.name}" if self.name else f"import {self.module}"
        return f"{self.importer}:{self.line}: {what}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(module: str) -> bool:
    return (ROOT / module.replace(".", "/") / "__init__.py").exists()


def package_of(module: str) -> str:
    """The package a module belongs to (a package belongs to itself)."""
    return module if is_package(module) else module.rpartition(".")[0]


def ours(module: str) -> bool:
    return module.split(".", maxsplit=1)[0] in PACKAGES


def imports() -> Iterator[Import]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            importer = module_name(path)
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    if ours(node.module):
                        for alias in node.names:
                            yield _resolved(importer, node.module, alias.name, node.lineno)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if ours(alias.name):
                            yield Import(importer, alias.name, None, node.lineno)


def _resolved(importer: str, module: str, name: str, line: int) -> Import:
    """`from package import submodule` imports the submodule itself."""
    if is_package(module) and (is_package(f"{module}.{name}") or _is_module(f"{module}.{name}")):
        return Import(importer, f"{module}.{name}", None, line)
    return Import(importer, module, name, line)


def _is_module(module: str) -> bool:
    return (ROOT / (module.replace(".", "/") + ".py")).exists()


def inside(importer: str, package: str) -> bool:
    return importer == package or importer.startswith(f"{package}.")


def test_other_packages_import_through_the_public_interface() -> None:
    """A module is private to its package (and the packages below it): from elsewhere, its
    names come from the package's `__init__`, and only names its `__all__` lists."""
    wrong = []
    for found in imports():
        if found.name is None or not is_package(found.module):
            if not inside(package_of(found.importer), package_of(found.module)):
                wrong.append(f"{found}  (private to {package_of(found.module)})")
        elif not inside(found.importer, found.module):
            exported = getattr(importlib.import_module(found.module), "__all__", ())
            if found.name not in exported:
                wrong.append(f"{found}  ({found.name} is not in {found.module}.__all__)")
    assert wrong == []


def test_every_exported_name_is_used_by_another_package() -> None:
    """`__all__` holds what other packages use, no more: the rest stays private."""
    used = {
        (found.module, found.name)
        for found in imports()
        if found.name is not None and not inside(found.importer, found.module)
    }
    unused = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("__init__.py")):
            name = module_name(path)
            for exported in getattr(importlib.import_module(name), "__all__", ()):
                if (name, exported) not in used:
                    unused.append(f"{name}.{exported}")
    assert unused == []
