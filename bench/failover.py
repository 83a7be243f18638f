#!/usr/bin/env python3
"""Benchmark: registrar failover and return, against two real Kamailio instances.

Run from the project root::

    .venv/bin/python bench/failover.py [--runs 5] [--no-kill-run] [--json]

Everything runs on 127.0.0.1: a primary and a backup Kamailio
(``tests/helpers/kamailio.py``, same users) and a sipp UAS registered as bob at
the backup (``MultiUas`` and ``uas_multi_remote_bye.xml`` from
``bench/call_setup.py``).

Each run uses a fresh worker subprocess holding a ``PhoneHarness`` (SipEngine +
Capture + SQLite store) whose account has the primary as server and
``backup_servers=(backup,)``. The worker reports every RegistrationChanged event
(with its ``.mono``; CLOCK_MONOTONIC is system-wide on Linux, so it compares
with this process's ``time.monotonic()``) on stdout and places calls on request
(stdin). This process:

1. waits for REGISTERED on the primary;
2. freezes the primary: ``os.killpg(primary.pid, SIGSTOP)`` (all of Kamailio's
   processes: it neither answers nor causes ICMP errors) and measures
   freeze -> RegistrationChanged(REGISTERED, server=backup).mono (and, split
   out, freeze -> the REGISTERING event that says the engine switched);
3. has the worker call bob through the backup (talk 300 ms, we hang up);
4. ``SIGCONT``s the primary and measures SIGCONT -> REGISTERED on the primary.

The primary is always SIGCONT'ed in a ``finally``. The last, extra run kills
the primary instead (SIGKILL of its process group: the port then answers with
ICMP port unreachable) and, after the call, restarts it on the same port,
measuring restart -> REGISTERED on the primary.

Process clean-up reuses ``bench/_common.py``'s ``Children`` (process groups
and a watchdog process that kills them if this process dies, even by SIGKILL);
a worker also exits when its stdin (this process) goes away.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tests.helpers.kamailio as kamailio_mod  # noqa: E402
from bench._common import (  # noqa: E402  # noqa: E402
    CHILDREN,
    bench_main,
    clean_up,
    environment,
    host_port,
    ignore_signals,
    log,
    registrar,
    send_line,
    start_watched,
    stop_watched,
)
from bench.call_setup import CALLEE, REMOTE_BYE, USERS, MultiUas  # noqa: E402
from tests.helpers.kamailio import Kamailio  # noqa: E402

MARK = "@@EV "  # protocol lines on the worker's stdout (pjsip prints there too)


# ---------------------------------------------------------------- worker (subprocess)


def worker_main(a: argparse.Namespace) -> int:
    from softclock import events as ev
    from tests.helpers.harness import PhoneHarness

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(MARK + json.dumps(obj) + "\n")
        sys.stdout.flush()

    commands: queue.Queue[str | None] = queue.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put(None)  # the orchestrator is gone

    threading.Thread(target=read_stdin, daemon=True).start()

    phone = PhoneHarness(Path(a.data_dir))

    def pump(until: float, stop: Any = None) -> Any:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            try:
                e = phone.queue.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            phone.capture.handle(e)
            if isinstance(e, ev.RegistrationChanged):
                say(
                    {
                        "ev": "reg",
                        "mono": e.mono,
                        "state": e.state.name,
                        "server": e.server,
                        "code": e.code,
                        "reason": e.reason,
                        "message": e.message,
                    }
                )
            if stop is not None and stop(e):
                return e

    def call(uri: str, talk_ms: int) -> dict[str, Any]:
        t0 = time.monotonic()
        handle = phone.engine.make_call(uri)
        res: dict[str, Any] = {"ev": "call", "connected": False, "ended": False}
        e = pump(
            t0 + 10, lambda e: isinstance(e, (ev.CallConnected, ev.CallEnded, ev.CallFailed)) and e.handle == handle
        )
        if isinstance(e, ev.CallConnected):
            res["connected"] = True
            res["setup_ms"] = (e.mono - t0) * 1000.0
            early = pump(e.mono + talk_ms / 1000.0, lambda x: isinstance(x, ev.CallEnded) and x.handle == handle)
            if early is None:
                phone.engine.hangup(handle)
                e = pump(time.monotonic() + 10, lambda x: isinstance(x, ev.CallEnded) and x.handle == handle)
            else:
                e = early
        elif e is None:
            phone.engine.hangup(handle)
            e = pump(time.monotonic() + 5, lambda x: isinstance(x, ev.CallEnded) and x.handle == handle)
        if isinstance(e, ev.CallEnded):
            res.update(
                ended=True,
                status=e.sip_status,
                reason=e.reason,
                talk_s=e.connect_duration_s,
                local_hangup=e.local_hangup,
            )
        elif isinstance(e, ev.CallFailed):
            res["failed"] = e.message
        return res

    try:
        phone.account(registrar(a.server, a.domain), backup_servers=tuple(a.backup))
        say({"ev": "ready"})
        while True:
            pump(time.monotonic() + 0.05)
            try:
                cmd = commands.get_nowait()
            except queue.Empty:
                continue
            if cmd is None or cmd == "quit":
                break
            if cmd.startswith("call "):
                _, uri, talk = cmd.split()
                say(call(uri, int(talk)))
    finally:
        phone.close()
        say({"ev": "closed"})
    return 0


# ---------------------------------------------------------------- orchestrator


class Worker:
    """A worker subprocess with a line protocol (stdin: commands, stdout: events)."""

    def __init__(self, cmd: list[str], logf: Path) -> None:
        self.events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.timeline: list[dict[str, Any]] = []
        self._log = open(logf, "wb")
        self.proc = CHILDREN.spawn(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, cwd=str(ROOT), text=True, bufsize=1
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(MARK):
                self.events.put(json.loads(line[len(MARK) :]))
            else:
                self._log.write(line.encode(errors="replace"))
        self.events.put(None)

    def send(self, line: str) -> None:
        send_line(self.proc, line)

    def wait_for(self, pred: Any, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if e is None:
                raise RuntimeError(f"worker exited (code {self.proc.poll()})")
            self.timeline.append(e)
            if pred(e):
                return e

    def close(self) -> int | None:
        self.send("quit")
        rc = CHILDREN.finish(self.proc, 15)
        self._log.close()
        return rc


def _is_reg(state: str, server: str) -> Any:
    return lambda e: e.get("ev") == "reg" and e["state"] == state and e["server"] == server


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, primary: Kamailio, backup: Kamailio) -> None:
        self.args = args
        self.workdir = workdir
        self.primary = primary
        self.backup = backup
        self.p_addr = host_port(primary)  # a restarted primary keeps its port
        self.b_addr = host_port(backup)

    def restart_primary_same_port(self) -> None:
        """Start the (killed) primary again on its old port (the helper picks a free one)."""
        port = self.primary.port
        stop_watched(self.primary)
        real = kamailio_mod.free_udp_tcp_port
        kamailio_mod.free_udp_tcp_port = lambda *a, **k: port  # type: ignore[assignment]
        try:
            start_watched(self.primary)
        finally:
            kamailio_mod.free_udp_tcp_port = real  # type: ignore[assignment]

    def run_once(self, n: int, mode: str) -> dict[str, Any]:
        a = self.args
        name = f"{n:02d}-{mode}"
        res: dict[str, Any] = {"run": n, "mode": mode}
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--server",
            self.p_addr,
            "--domain",
            self.primary.domain,
            "--backup",
            self.b_addr,
            "--data-dir",
            str(self.workdir / name / "data"),
        ]
        (self.workdir / name).mkdir()
        frozen = False
        worker: Worker | None = None
        try:
            with MultiUas(self.backup, REMOTE_BYE, 1, self.workdir / name, "sipp-bob-at-backup") as far:
                worker = Worker(cmd, self.workdir / name / "worker.log")
                if worker.wait_for(_is_reg("REGISTERED", self.p_addr), 15) is None:
                    raise RuntimeError("not REGISTERED on the primary")
                # The watch pings every 1 s (0.7 s timeout): spread the moment of the
                # freeze (and below of the SIGCONT) evenly over its cycle, run by run,
                # or every run would hit the same phase and show the same figure.
                runs = max(1, a.runs)
                frac_down = ((n - 1) % runs) / runs if mode == "freeze" else 0.0
                frac_up = ((2 * (n - 1)) % runs) / runs if mode == "freeze" else 0.0
                res["delay_before_down_s"] = a.settle_s + frac_down * 1.0
                time.sleep(res["delay_before_down_s"])
                # ---- take the primary away
                t_down = time.monotonic()
                os.killpg(self.primary.pid, signal.SIGSTOP if mode == "freeze" else signal.SIGKILL)  # type: ignore[arg-type]
                frozen = mode == "freeze"
                switching = worker.wait_for(_is_reg("REGISTERING", self.b_addr), a.timeout)
                moved = worker.wait_for(_is_reg("REGISTERED", self.b_addr), a.timeout)
                res["switch_s"] = None if switching is None else switching["mono"] - t_down
                res["failover_s"] = None if moved is None else moved["mono"] - t_down
                if moved is not None:
                    res["backup_message"] = moved["message"]
                    # ---- prove calls work through the backup
                    worker.send(f"call sip:{CALLEE}@{self.backup.domain} {a.talk_ms}")
                    c = worker.wait_for(lambda e: e.get("ev") == "call", 30)
                    res["call"] = c
                    res["call_ok"] = bool(c and c.get("connected") and c.get("ended"))
                    res["sipp_rc"] = far.wait(10)
                    res["call_ok"] = res["call_ok"] and res["sipp_rc"] == 0
                # ---- bring the primary back
                res["delay_before_up_s"] = frac_up * 1.7  # a frozen primary's ping cycle: 0.7 s timeout + 1 s
                time.sleep(res["delay_before_up_s"])
                t_up = time.monotonic()
                if mode == "freeze":
                    os.killpg(self.primary.pid, signal.SIGCONT)  # type: ignore[arg-type]
                    frozen = False
                else:
                    self.restart_primary_same_port()
                    res["restart_s"] = time.monotonic() - t_up
                back = worker.wait_for(_is_reg("REGISTERED", self.p_addr), a.timeout)
                res["return_s"] = None if back is None else back["mono"] - t_up
                if back is not None:
                    res["primary_message"] = back["message"]
        except RuntimeError as exc:
            res["error"] = str(exc)
        finally:
            if frozen or mode == "freeze":
                try:
                    os.killpg(self.primary.pid, signal.SIGCONT)  # type: ignore[arg-type]
                except (ProcessLookupError, PermissionError, TypeError):
                    pass
            if worker is not None:
                res["worker_rc"] = worker.close()
                res["timeline"] = [{k: v for k, v in e.items() if k != "message"} for e in worker.timeline]
            if mode == "kill" and not self.primary.running:
                self.restart_primary_same_port()
        f = lambda x: "-" if x is None else f"{x:.2f} s"  # noqa: E731
        log(
            f"run {n} ({mode}): failover {f(res.get('failover_s'))}, call "
            f"{'ok' if res.get('call_ok') else 'FAILED'}, return {f(res.get('return_s'))}"
            + (f"; {res['error']}" if "error" in res else "")
        )
        return res


def stats(xs: list[float | None]) -> dict[str, Any]:
    v = [x for x in xs if x is not None]
    if not v:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {"n": len(v), "median": statistics.median(v), "min": min(v), "max": max(v)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="softclock-bench-failover-"))
    primary = Kamailio(workdir / "primary", USERS)
    backup = Kamailio(workdir / "backup", USERS)
    report: dict[str, Any] = {
        "environment": environment(),
        "parameters": {
            "runs": args.runs,
            "kill_run": not args.no_kill_run,
            "talk_ms": args.talk_ms,
            "settle_s": args.settle_s,
        },
        "runs": [],
    }
    ok = False
    try:
        for k in (primary, backup):
            start_watched(k)
        log(f"primary Kamailio {primary.host}:{primary.port}, backup {backup.host}:{backup.port}; work dir {workdir}")
        bench = Bench(args, workdir, primary, backup)
        report["environment"]["primary"] = bench.p_addr
        report["environment"]["backup"] = bench.b_addr
        for n in range(1, args.runs + 1):
            report["runs"].append(bench.run_once(n, "freeze"))
        if not args.no_kill_run:
            report["runs"].append(bench.run_once(args.runs + 1, "kill"))
        fr = [r for r in report["runs"] if r["mode"] == "freeze"]
        report["freeze"] = {
            "failover_s": stats([r.get("failover_s") for r in fr]),
            "switch_s": stats([r.get("switch_s") for r in fr]),
            "return_s": stats([r.get("return_s") for r in fr]),
            "calls_ok": sum(1 for r in fr if r.get("call_ok")),
        }
        report["wall_s"] = time.monotonic() - started
        ok = True
    finally:
        ignore_signals()
        if primary.pid is not None:  # never leave it stopped (stop() could not end it then)
            try:
                os.killpg(primary.pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                pass
        failed = not ok or any("error" in r for r in report["runs"])
        clean_up([primary, backup], workdir, keep_logs=failed or args.keep)
    return report


def print_report(r: dict[str, Any]) -> None:
    env = r["environment"]
    f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    print("softclock registrar failover benchmark (PhoneHarness, account with backup_servers=(backup,))")
    print(
        f"  Kamailio {env['kamailio']} primary {env.get('primary')} + backup {env.get('backup')}, sipp "
        f"{env['sipp']} UAS as {CALLEE} at the backup, pjsua2-python {env['pjsua2']}, Python {env['python']}, "
        f"{env['cpus']} CPUs"
    )
    print("  failover = primary down -> RegistrationChanged(REGISTERED, server=backup).mono;")
    print("  switch   = primary down -> RegistrationChanged(REGISTERING, server=backup) (the watch's decision);")
    print("  return   = SIGCONT (or restart) -> RegistrationChanged(REGISTERED, server=primary).mono")
    print("  (freeze and SIGCONT moments are spread evenly over the watch's 1 s / 1.7 s ping cycle, run by run)")
    print()
    print(f"  {'run':>3} {'primary':<26} {'switch s':>8} {'failover s':>10} {'call via backup':<28} {'return s':>8}")
    for x in r["runs"]:
        how = "SIGSTOP / SIGCONT" if x["mode"] == "freeze" else "SIGKILL / restart same port"
        c = x.get("call") or {}
        call = (
            f"ok ({c.get('setup_ms', 0):.0f} ms set-up)"
            if x.get("call_ok")
            else f"FAILED {c.get('failed', '')} sipp rc {x.get('sipp_rc')}"
        )
        print(
            f"  {x['run']:>3} {how:<26} {f(x.get('switch_s')):>8} {f(x.get('failover_s')):>10} {call:<28} "
            f"{f(x.get('return_s')):>8}" + (f"  ! {x['error']}" if "error" in x else "")
        )
    fz = r.get("freeze")
    if fz:
        print()
        n = len([x for x in r["runs"] if x["mode"] == "freeze"])
        for key, label in (
            ("failover_s", "failover (SIGSTOP)"),
            ("switch_s", "  of which switch"),
            ("return_s", "return (SIGCONT)"),
        ):
            s = fz[key]
            print(
                f"  {label:<20} median {f(s['median'])} s, min {f(s['min'])} s, max {f(s['max'])} s ({s['n']}/{n} runs)"
            )
        print(f"  calls through the backup: {fz['calls_ok']}/{n} ok")
    for x in r["runs"]:
        if x["mode"] == "kill":
            print(
                f"  SIGKILL run: failover {f(x.get('failover_s'))} s (switch {f(x.get('switch_s'))} s), call "
                f"{'ok' if x.get('call_ok') else 'FAILED'}, primary restarted in {f(x.get('restart_s'))} s, "
                f"restart -> REGISTERED on primary {f(x.get('return_s'))} s"
            )
    bad = [x for x in r["runs"] if x.get("worker_rc") not in (0,)]
    if bad:
        print("  ! worker exit codes: " + ", ".join(f"run {x['run']}: {x.get('worker_rc')}" for x in bad))
    print(f"  wall time {r['wall_s']:.1f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="softclock registrar failover timing (prints figures)")
    ap.add_argument("--runs", type=int, default=5, help="SIGSTOP/SIGCONT runs (default 5)")
    ap.add_argument("--no-kill-run", action="store_true", help="skip the extra run that SIGKILLs the primary")
    ap.add_argument("--talk-ms", type=int, default=300, help="talk time of the call via the backup (default 300)")
    ap.add_argument(
        "--settle-s",
        type=float,
        default=0.5,
        help="wait after REGISTERED on the primary before freezing it (default 0.5)",
    )
    ap.add_argument("--timeout", type=float, default=30.0, help="give up on an event after this (default 30 s)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work dir with all logs")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--server", help=argparse.SUPPRESS)
    ap.add_argument("--domain", help=argparse.SUPPRESS)
    ap.add_argument("--backup", action="append", default=[], help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args(argv), worker_main, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
