"""The licence texts of everything a Softclock bundle carries, in one folder.

    python installers/bundle_licenses.py DEST     # run by the PyInstaller spec

DEST gets: README.txt (each component, its version, its licence, where its
texts are), the GPL-2.0/GPL-3.0/LGPL-3.0 texts (Softclock and pjproject are
GPL-2.0-or-later; PySide6/Qt are LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only),
SOURCE-OFFER.txt (the written offer for pjsua2's and Softclock's source), and
python/<dist>-<version>/ with the licence files of each Python distribution
that Softclock needs at run time (the closure of its requirements in this
environment) plus PyInstaller's (its bootloader is in every bundle).

The written offer names a distributor and a contact: set SOFTCLOCK_DISTRIBUTOR
and SOFTCLOCK_SOURCE_CONTACT when building a package you hand out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEXTS = ("GPL-2.0.txt", "GPL-3.0.txt", "LGPL-3.0.txt")
_LICENSE_FILE = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*$", re.IGNORECASE)
DEFAULT_DISTRIBUTOR = "the organisation that gave you this copy of Softclock"
DEFAULT_CONTACT = "the IT department or supplier that gave you this copy (no contact was set when it was built)"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions(root: str = "softclock") -> list[metadata.Distribution]:
    """``root`` and every distribution it needs here, following requirements whose
    markers hold in this environment (extras are not followed)."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    return sorted(seen.values(), key=lambda d: _norm(d.metadata["Name"]))


# distributions whose metadata does not name their licence, or whose texts are at the top
_KNOWN = {
    "softclock": "GPL-2.0-or-later (GPL-2.0.txt)",
    "pjsua2-python": "GPL-2.0-or-later, as pjproject (GPL-2.0.txt)",
    "pyside6-essentials": "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only (LGPL-3.0.txt, GPL-3.0.txt, GPL-2.0.txt)",
    "shiboken6": "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only (LGPL-3.0.txt, GPL-3.0.txt, GPL-2.0.txt)",
}


def licence_of(dist: metadata.Distribution) -> str:
    md = dist.metadata
    if _norm(md["Name"]) in _KNOWN:
        return _KNOWN[_norm(md["Name"])]
    expr = md.get("License-Expression")
    if expr:
        return expr
    lic = (md.get("License") or "").strip()
    if lic and "\n" not in lic and len(lic) < 80:
        return lic
    classifiers = [c.split(" :: ")[-1] for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    return "; ".join(classifiers) or "see its files"


def _licence_files(dist: metadata.Distribution) -> list[Path]:
    out = []
    for f in dist.files or []:
        if ".dist-info/" in str(f) and _LICENSE_FILE.search(str(f)):
            path = Path(dist.locate_file(f))
            if path.is_file():
                out.append(path)
    return out


def _git_revision(root: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return f"git {rev}"
    except (OSError, subprocess.CalledProcessError):
        return "the source release of this version"


def source_offer(root: Path) -> str:
    pj = metadata.distribution("pjsua2-python")
    pj_ref = Path(pj.locate_file("pjsua2/_pjproject_ref"))
    pj_version = pj_ref.read_text().strip() if pj_ref.is_file() else pj.version.split(".post")[0]
    text = (HERE / "licenses" / "SOURCE-OFFER.txt.in").read_text()
    values = {
        "VERSION": metadata.version("softclock"),
        "REVISION": _git_revision(root),
        "PJ_VERSION": pj_version,
        "PJ_WHEEL_VERSION": pj.version,
        "DISTRIBUTOR": os.environ.get("SOFTCLOCK_DISTRIBUTOR") or DEFAULT_DISTRIBUTOR,
        "CONTACT": os.environ.get("SOFTCLOCK_SOURCE_CONTACT") or DEFAULT_CONTACT,
    }
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def collect_licenses(dest: Path, root: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "python").mkdir(parents=True)
    for name in TEXTS:
        shutil.copyfile(HERE / "licenses" / name, dest / name)
    (dest / "SOURCE-OFFER.txt").write_text(source_offer(root))
    lines = [
        "Softclock bundle: components and their licences",
        "",
        "Softclock: GPL-2.0-or-later (GPL-2.0.txt). Written offer for source: SOURCE-OFFER.txt.",
        "pjproject / pjsua2 (inside pjsua2-python): GPL-2.0-or-later (GPL-2.0.txt).",
        "  The pjsua2-python wheel also bundles OpenSSL 1.0.2k (OpenSSL and SSLeay licences),",
        "  MIT Kerberos 5, keyutils, libcom_err, libselinux and PCRE 8.32, taken from CentOS 7",
        "  (see pjsua2_python.libs/ and the wheel's sboms/auditwheel.cdx.json).",
        "PySide6 / Shiboken6 and the Qt 6 libraries: LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only",
        "  (LGPL-3.0.txt, GPL-3.0.txt, GPL-2.0.txt). Qt's source: https://download.qt.io/official_releases/qt/",
        "  and PySide6's: https://code.qt.io/cgit/pyside/pyside-setup.git/",
        "",
        "Python packages (their own licence files are under python/<name>-<version>/):",
    ]
    dists = runtime_distributions()
    try:
        dists.append(metadata.distribution("pyinstaller"))
    except metadata.PackageNotFoundError:
        pass
    for dist in dists:
        name, version = dist.metadata["Name"], dist.version
        files = _licence_files(dist)
        folder = dest / "python" / f"{name}-{version}"
        if files:
            folder.mkdir()
            for f in files:
                target = folder / f.name
                if target.exists():  # two files of one name in different sub-folders
                    target = folder / f"{f.parent.name}-{f.name}"
                shutil.copyfile(f, target)
        where = f" (python/{name}-{version}/)" if files else ""
        lines.append(f"  {name} {version}: {licence_of(dist)}{where}")
    runtime_licence = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    if runtime_licence.is_file():
        (dest / "python" / "CPython").mkdir()
        shutil.copyfile(runtime_licence, dest / "python" / "CPython" / "LICENSE.txt")
        lines.append(f"  CPython {sys.version.split()[0]}: PSF-2.0 (python/CPython/LICENSE.txt)")
    (dest / "README.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    collect_licenses(Path(sys.argv[1]), HERE.parent)
