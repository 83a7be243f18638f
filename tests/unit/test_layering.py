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


def _runtime_imports(path: Path) -> set[str]:
    """The modules ``path`` imports, leaving out ``if TYPE_CHECKING:`` blocks (names for the type checker only)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
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


def test_the_ui_reaches_the_store_only_through_the_facades() -> None:
    """No view opens a session or holds an ORM object: softclock/ui imports no
    softclock.store, no SQLAlchemy and not the review functions that take a session."""
    forbidden = ("softclock.store", "sqlalchemy", "softclock.review", "softclock.audit", "softclock.sync.")
    offenders = sorted(
        f"{p.relative_to(ROOT)}: {name}"
        for p in (ROOT / "ui").rglob("*.py")
        for name in _runtime_imports(p)
        if name.startswith(forbidden)
        and not name.startswith("softclock.sync.service")  # the sync worker's thread, not the store
    )
    assert offenders == []


def test_the_window_shows_before_the_store_is_imported() -> None:
    """Importing the desktop shell loads neither SQLAlchemy nor the store nor pjsua2: they come after the window."""
    import subprocess
    import sys

    probe = (
        "import sys, softclock.ui.application; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'pjsua2') "
        "or m.startswith('softclock.store')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    ).stdout
    assert out.strip() == "[]"


def _runtime_dependencies() -> set[str]:
    import re
    import tomllib

    project = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].lower().replace("_", "-") for dep in project["dependencies"]}


def test_every_library_the_app_imports_is_a_runtime_dependency() -> None:
    """A module only the test extras install would break `scripts/install-and-run.sh`'s app."""
    import sys
    from importlib.metadata import packages_distributions

    deps = _runtime_dependencies()
    dists = packages_distributions()
    missing = {}
    for path in ROOT.rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("softclock", "__future__"):
                continue
            provided_by = {d.lower().replace("_", "-") for d in dists.get(top, [])}
            if not provided_by & deps:
                missing[top] = str(path.relative_to(ROOT))
    assert missing == {}


def test_the_postgresql_driver_the_urls_pick_is_a_runtime_dependency() -> None:
    from softclock.sync.connect import parse_url

    driver = parse_url("postgresql://alice@db.example/billing").get_driver_name()
    assert driver == "psycopg" and "psycopg" in _runtime_dependencies()
