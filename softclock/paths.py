"""Where Softclock keeps its files.

Defaults come from platformdirs; ``--data-dir``/``SOFTCLOCK_DATA_DIR`` and
``--config``/``SOFTCLOCK_CONFIG`` override them.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "softclock"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    raw = override or os.environ.get("SOFTCLOCK_DATA_DIR")
    path = Path(raw) if raw else Path(platformdirs.user_data_dir(APP, appauthor=False))
    return path.expanduser()


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    raw = override or os.environ.get("SOFTCLOCK_CONFIG")
    if raw:
        return Path(raw).expanduser()
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "settings.toml"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by its owner only.

    A directory that is private already is left as it is: on a read-only file
    system that is not an error here (the store says what it cannot write).
    """
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix" and path.stat().st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)
    return path


def runtime_socket_name(data: Path) -> str:
    """Name of the local socket a running app listens on (one per data dir)."""
    import hashlib

    digest = hashlib.sha1(str(data.resolve()).encode()).hexdigest()[:12]
    return f"softclock-{digest}"
