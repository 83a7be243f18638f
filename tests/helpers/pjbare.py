"""Plumbing shared by the tests that drive a bare pjsua2 Endpoint (no softclock code).

Callbacks put events (tuples whose first item says what they are) on a
``queue.Queue``; the test waits on it with :func:`wait_event`.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pjsua2 as pj  # a dependency: its absence must fail, not skip

EVENT_TIMEOUT = 10.0


def wait_event(q: queue.Queue, pred, timeout: float = EVENT_TIMEOUT, seen: list | None = None):
    """Return the first event matching pred; events consumed are appended to seen."""
    seen = [] if seen is None else seen
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"event not seen within {timeout}s; events: {seen}")
        try:
            ev = q.get(timeout=left)
        except queue.Empty:
            continue
        seen.append(ev)
        if pred(ev):
            return ev


def endpoint_config(
    *, threads: int = 1, user_agent: str | None = None, log_level: int = 4, log_file: Path | str | None = None
) -> pj.EpConfig:
    """An EpConfig with ``threads`` worker threads and callbacks on them (``mainThreadOnly=False``)."""
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = threads
    cfg.uaConfig.mainThreadOnly = False
    if user_agent is not None:
        cfg.uaConfig.userAgent = user_agent
    cfg.logConfig.level = log_level
    cfg.logConfig.consoleLevel = 1
    if log_file is not None:
        cfg.logConfig.filename = str(log_file)
    return cfg


def loopback_transport_config(*, public: bool = False) -> pj.TransportConfig:
    """A TransportConfig on 127.0.0.1, any free port (``public``: also advertise 127.0.0.1)."""
    tcfg = pj.TransportConfig()
    tcfg.port = 0
    tcfg.boundAddress = "127.0.0.1"
    if public:
        tcfg.publicAddress = "127.0.0.1"
    return tcfg


def account_config(
    user: str, password: str, domain: str, registrar_uri: str | None, proxy_uri: str
) -> pj.AccountConfig:
    """An account ``user@domain`` through ``proxy_uri``; it registers unless ``registrar_uri`` is None.

    No retry after a failed registration (a test wants the first answer), no SIP outbound."""
    cfg = pj.AccountConfig()
    cfg.idUri = f"sip:{user}@{domain}"
    if registrar_uri is not None:
        cfg.regConfig.registrarUri = registrar_uri
    cfg.regConfig.retryIntervalSec = 0
    cfg.regConfig.timeoutSec = 300
    cfg.sipConfig.proxies.append(proxy_uri)
    cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
    cfg.natConfig.sipOutboundUse = 0
    cfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    return cfg


def close_accounts(
    accounts: Iterable, events_of: Callable[[object], queue.Queue], unregistered: Callable[[tuple], bool]
) -> None:
    """Hang up each account's ``calls`` and wait for them to end, unregister (waiting
    for the event ``unregistered`` matches, so a late un-REGISTER cannot remove the
    next test's binding), shut the account down and drop its call wrappers."""
    for acc in accounts:
        events = events_of(acc)
        live = []
        for c in acc.calls:
            try:
                if c.isActive():
                    live.append(c)
                    c.hangup(pj.CallOpParam())
            except pj.Error:
                pass
        for c in live:
            try:
                wait_event(events, lambda ev, c=c: not c.isActive(), timeout=5)
            except AssertionError:
                pass
        try:
            if acc.getInfo().regIsActive:
                acc.setRegistration(False)
                wait_event(events, unregistered, timeout=5)
        except (pj.Error, AssertionError):
            pass
        acc.calls.clear()
        acc.shutdown()
    # NB: the loop variables (acc, c) are released when this function returns --
    # before the caller's libDestroy().  A Call wrapper deleted after libDestroy()
    # aborts the process (pjsua assertion in pjsua_call_set_user_data).
