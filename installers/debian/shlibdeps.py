"""The Debian packages a PyInstaller bundle needs from the system.

    python3 installers/debian/shlibdeps.py BUNDLE_DIR      # prints a Depends value

PyInstaller copies most shared libraries into the bundle; the few it leaves to
the system (glibc, the GL/EGL driver stack, libxcb, ...) are what ``ldd`` of
the bundle's ELF files resolves outside it. Each is mapped to its package with
``dpkg -S`` (like dpkg-shlibdeps, without needing dpkg-dev); libc6 gets the
newest GLIBC_ symbol version the bundle uses as its minimum. A library that resolves nowhere fails
the build, except those only optional plugins need (listed in OPTIONAL).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# Needed only by Qt plugins that are tried and skipped when the library is absent:
# the GTK 3 platform theme and the Wayland EGL/cursor integrations.
OPTIONAL = re.compile(r"^lib(gtk-3|gdk-3|wayland-cursor|wayland-egl)\.so")


def elf_files(root: Path) -> list[Path]:
    out = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    out.append(path)
    return out


def system_libraries(root: Path) -> tuple[set[str], set[str]]:
    """(paths outside the bundle that its ELF files load, sonames found nowhere)."""
    libdirs = {str(p.parent) for p in elf_files(root) if ".so" in p.name}
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(sorted(libdirs)))
    outside, missing = set(), set()
    root_s = str(root.resolve())
    for elf in elf_files(root):
        res = subprocess.run(["ldd", str(elf)], check=False, capture_output=True, text=True, env=env)
        for line in res.stdout.splitlines():
            m = re.match(r"\s*(\S+) => (not found|(\S+))", line)
            if not m:
                continue
            soname, target = m.group(1), m.group(3)
            if target is None:
                if not OPTIONAL.match(soname):
                    missing.add(f"{soname} (needed by {elf.relative_to(root)})")
            elif not os.path.realpath(target).startswith(root_s):
                outside.add(target)
    return outside, missing


def owning_package(path: str) -> str | None:
    spellings = {path, os.path.realpath(path)}
    candidates = set(spellings)
    for p in spellings:  # merged /usr: dpkg may know either spelling
        if p.startswith("/usr/lib/"):
            candidates.add(p[len("/usr") :])
        elif p.startswith("/lib"):
            candidates.add("/usr" + p)
    for p in sorted(candidates):
        res = subprocess.run(["dpkg", "-S", p], check=False, capture_output=True, text=True)
        if res.returncode == 0:
            return res.stdout.split(":", 1)[0].strip()
    return None


def glibc_floor(root: Path) -> str | None:
    """The newest GLIBC_x.y symbol version the bundle's ELF files ask for (objdump,
    from binutils), else the build machine's glibc version."""
    versions: set[tuple[int, ...]] = set()
    try:
        for elf in elf_files(root):
            out = subprocess.run(["objdump", "-T", str(elf)], check=False, capture_output=True, text=True).stdout
            versions.update(tuple(int(n) for n in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out))
    except FileNotFoundError:
        versions.clear()
    if versions:
        return ".".join(str(n) for n in max(versions))
    host = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libc6"], check=False, capture_output=True, text=True
    ).stdout
    m = re.match(r"(\d+\.\d+)", host)
    return m.group(1) if m else None


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    outside, missing = system_libraries(root)
    if missing:
        print("The bundle needs libraries this machine lacks:\n  " + "\n  ".join(sorted(missing)), file=sys.stderr)
        return 1
    packages = set()
    for path in outside:
        pkg = owning_package(path)
        if pkg is None:
            print(f"No Debian package owns {path}, which the bundle loads.", file=sys.stderr)
            return 1
        packages.add(pkg)
    glibc = glibc_floor(root)
    deps = []
    for pkg in sorted(packages):
        if pkg == "libc6" and glibc:
            deps.append(f"libc6 (>= {glibc})")
        else:
            deps.append(pkg)
    print(", ".join(deps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
