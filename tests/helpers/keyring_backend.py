"""A keyring backend for tests only: an in-memory dict, optionally mirrored to a
private file named by ``SOFTCLOCK_TEST_KEYRING`` so that a CLI subprocess and the
app under test see the same passwords. Select it with
``PYTHON_KEYRING_BACKEND=tests.helpers.keyring_backend.MemoryKeyring``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

_memory: dict[str, str] = {}


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path | None:
        raw = os.environ.get("SOFTCLOCK_TEST_KEYRING")
        return Path(raw) if raw else None

    def _load(self) -> dict[str, str]:
        path = self._path()
        if path is None:
            return dict(_memory)
        if not path.exists():
            return {}
        return dict(json.loads(path.read_text()))

    def _save(self, data: dict[str, str]) -> None:
        path = self._path()
        if path is None:
            _memory.clear()
            _memory.update(data)
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        self._save(data)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(data)
