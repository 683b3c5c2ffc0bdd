"""What a rule's output depends on: the package modules its script imports, transitively.

Snakemake re-runs a rule when its script changes (the ``code`` trigger), but not when a library
module that the script imports changes. The workflow therefore declares, as inputs of every rule,
the files of ``parentlink`` that the rule's script imports (directly or through other modules of
the package), found here by reading the import statements (nothing is imported). The
package's ``__init__.py`` is always included, since importing any submodule runs it.

Imports inside functions count too (lazy imports are still code the rule runs). An import of a
name that is not a module (``from parentlink.errors import fail``) counts as its module.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PACKAGE = "parentlink"


def _module_file(package_dir: Path, dotted: str) -> Path | None:
    """The file of module `dotted` (e.g. 'parentlink.estimate') inside `package_dir`, if any."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return None
    rel = Path(*parts[1:]) if len(parts) > 1 else Path()
    for candidate in (package_dir / rel / "__init__.py", (package_dir / rel).with_suffix(".py")):
        if len(parts) == 1 and candidate.name != "__init__.py":
            continue
        if candidate.is_file():
            return candidate
    return None


_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.M)


def _imported_modules(source: str, filename: str, current: str | None) -> set[str]:
    """Dotted names of every module (or module.attribute) that `source` imports.

    Read with regular expressions over the import statements (at any indentation, so imports
    inside functions count; a parenthesised name list may span lines): parsing every module with
    `ast` cost about 0.3 s each time the Snakefile was read. An import-like line inside a string
    can only add a dependency, never lose one. `current` is the dotted name of the module being
    read (for relative imports), None for a script outside the package.
    """
    names: set[str] = set()
    for m in _IMPORT.finditer(source):
        for part in m.group(1).split(","):
            words = part.split()
            if words:
                names.add(words[0])
    for m in _FROM.finditer(source):
        mod, listed = m.group(1), m.group(2).strip("() \t\n")
        level = len(mod) - len(mod.lstrip("."))
        mod = mod.lstrip(".")
        if level:
            if current is None:
                continue
            base_parts = current.split(".")
            keep = len(base_parts) - level + (1 if filename.endswith("__init__.py") else 0)
            base = ".".join(base_parts[:keep])
            mod = f"{base}.{mod}" if mod else base
        names.add(mod)
        for part in listed.replace("\n", ",").split(","):
            words = part.split()
            if words and words[0] != "*":
                names.add(f"{mod}.{words[0]}")
    return names


@cache
def _imports_of(path: Path, current: str | None, mtime_ns: int) -> frozenset[str]:
    return frozenset(_imported_modules(path.read_text(encoding="utf-8"), str(path), current))


@cache
def _closure(script: Path, package_dir: Path) -> tuple[Path, ...]:
    seen: dict[Path, str] = {}
    todo: list[tuple[Path, str | None]] = [(script, None)]
    while todo:
        path, current = todo.pop()
        for dotted in _imports_of(path, current, path.stat().st_mtime_ns):
            if dotted.split(".")[0] != PACKAGE:
                continue
            # Importing a.b.c runs a/__init__, a/b/__init__ ... : every prefix that is a module.
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                found = _module_file(package_dir, prefix)
                if found is not None and found not in seen:
                    seen[found] = prefix
                    todo.append((found, prefix))
    return tuple(sorted(seen, key=str))


def module_files(script: str | Path, package_dir: str | Path) -> list[Path]:
    """Files of the package that `script` imports, transitively, sorted.

    `package_dir` is the folder of the package as it will be imported when the rule runs.
    """
    return list(_closure(Path(script).resolve(), Path(package_dir).resolve()))


def package_modules(package_dir: str | Path) -> list[Path]:
    """Every module file of the package (what a complete dependency declaration must cover)."""
    return sorted(Path(package_dir).resolve().rglob("*.py"), key=str)
