"""The layering rules of DESIGN.md, checked on the source."""

import ast
from pathlib import Path

import softclock

ROOT = Path(softclock.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_sip_package_imports_pjsua2() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if "sip" not in p.relative_to(ROOT).parts[:1] and any(n.split(".")[0] == "pjsua2" for n in _imports(p))
    ]
    assert offenders == []


def test_only_the_ui_package_imports_qt_widgets() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if p.relative_to(ROOT).parts[0] != "ui"
        and any(n.startswith(("PySide6.QtWidgets", "PySide6.QtGui")) for n in _imports(p))
    ]
    assert offenders == []


def test_the_core_imports_no_qt_at_all() -> None:
    core = [p for p in ROOT.glob("*.py") if p.name not in ("cli.py",)] + list((ROOT / "store").rglob("*.py"))
    offenders = [str(p.relative_to(ROOT)) for p in core if any(n.startswith("PySide6") for n in _imports(p))]
    assert offenders == []
