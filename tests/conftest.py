"""Shared fixtures. Real components first: see tests/helpers/."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "tests.helpers.keyring_backend.MemoryKeyring")

from tests.helpers.pgfixtures import pg_cluster, pg_db  # noqa: F401
from tests.helpers.sipfixtures import kamailio, kamailio_factory  # noqa: F401
