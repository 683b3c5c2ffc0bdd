"""parentlink.deps: the package modules a script imports, transitively (unit cases; the workflow
itself is checked against what scripts really load in tests/test_dependencies.py)."""

from __future__ import annotations

from pathlib import Path

from parentlink.deps import module_files


def make_package(root: Path) -> Path:
    pkg = root / "parentlink"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "VERSION = 1\n",
        "a.py": "from parentlink.b import thing\n",
        "b.py": "from . import c\nthing = 1\n",
        "c.py": "def f():\n    from .sub import deep  # lazy import inside a function\n",
        "sub/__init__.py": "",
        "sub/deep.py": "import json\n",
        "multi.py": "from parentlink import (\n    d,\n    e,  # comment\n)\n",
        "d.py": "",
        "e.py": "",
        "unused.py": "import parentlink.a\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    return pkg


def names(files: list[Path], pkg: Path) -> list[str]:
    return sorted(p.relative_to(pkg).as_posix() for p in files)


def test_transitive_relative_and_lazy_imports(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    script = tmp_path / "script.py"
    script.write_text("import os\nfrom parentlink.a import x\n", encoding="utf-8")
    assert names(module_files(script, pkg), pkg) == [
        "__init__.py", "a.py", "b.py", "c.py", "sub/__init__.py", "sub/deep.py"]


def test_parenthesised_names_over_several_lines(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    script = tmp_path / "other.py"
    script.write_text("from parentlink import multi\n", encoding="utf-8")
    assert names(module_files(script, pkg), pkg) == ["__init__.py", "d.py", "e.py", "multi.py"]


def test_a_script_without_package_imports_depends_on_nothing(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    script = tmp_path / "plain.py"
    script.write_text("import json\nfrom pathlib import Path\n", encoding="utf-8")
    assert module_files(script, pkg) == []
