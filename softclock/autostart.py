"""Start at login: the XDG autostart entry (``$XDG_CONFIG_HOME/autostart/softclock.desktop``).

The entry's presence is the setting itself, so the desktop's own session settings
(which may remove or hide it) and Softclock's checkbox never disagree.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

FILE_NAME = "softclock.desktop"

_ENTRY = """[Desktop Entry]
Type=Application
Name=Softclock
Comment=Softphone that times calls for billing
Exec={exec}
Icon=org.softclock.Softclock
Terminal=false
X-GNOME-Autostart-enabled=true
"""


def entry_path() -> Path:
    """Where the entry goes, honouring ``XDG_CONFIG_HOME`` (default ``~/.config``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "autostart" / FILE_NAME


def enabled() -> bool:
    """Whether Softclock starts at login (an entry exists and is not hidden or disabled)."""
    path = entry_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    lines = {line.strip().lower() for line in text.splitlines()}
    return "hidden=true" not in lines and "x-gnome-autostart-enabled=false" not in lines


def set_enabled(on: bool, command: str | None = None) -> Path:
    """Write (``on``) or remove the entry; ``command`` defaults to the launcher on PATH."""
    path = entry_path()
    if not on:
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    exe = command or shutil.which("softclock") or "softclock"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(_ENTRY.format(exec=exe), encoding="utf-8")
    tmp.replace(path)
    return path
