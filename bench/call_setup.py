#!/usr/bin/env python3
"""Benchmark: call set-up latency and capture accuracy through a real Kamailio.

Run from the project root::

    .venv/bin/python bench/call_setup.py [--calls 50] [--accuracy-calls 20] [--json]

Everything runs on 127.0.0.1: a throw-away Kamailio (``tests/helpers/kamailio.py``;
digest auth, every initial INVITE from a local user is challenged with 407) and
sipp as the far end, registered as bob; one sipp process answers all the calls
of one row (``-m N``, scenarios in ``bench/scenarios/``).

1. makeCall -> CONFIRMED latency over UDP and TCP (caller <-> Kamailio; the
   Kamailio <-> sipp leg is always UDP). Calls are sequential; sipp answers at
   once (180 then 200, no pause) and waits for our BYE, sent as soon as the call
   is CONFIRMED; ``--gap-ms`` separates the calls.

   * softclock's ``SipEngine``: ``time.monotonic()`` just before ``make_call()``
     to the ``CallConnected`` event's ``.mono``;
   * bare pjsua2 (``bench/bare_pjsua2.py``) with pjsua's worker thread
     (threadCnt=1) and with threadCnt=0 polling ``libHandleEvents`` on the
     calling thread: just before ``makeCall()`` to the CONFIRMED ``onCallState``.

   The first ``--warmup`` calls of each row are made but left out of the figures.
   "407s" counts the INVITE challenges in Kamailio's log during the row, "caller
   Via" the transport of the caller's Via in the INVITEs sipp received.
   If softclock's TCP transport turns out to carry no socket options (no
   TCP_NODELAY), a diagnostic row repeats the TCP run with TCP_NODELAY patched in
   by the benchmark (``--no-fix-row`` skips it); engine.py is never changed.

2. Capture accuracy: calls through the full softclock path (``PhoneHarness``:
   engine + ``Capture`` + SQLite store) over UDP; sipp hangs up itself after a
   talk time spread evenly over 1.0-3.0 s. Each call's draft entry
   ``raw_seconds`` in the store is compared with sipp's own ACK received -> BYE
   sent interval for that Call-ID (``gettimeofday`` in the scenario's ``<log>``).

Process layout: this orchestrator never loads pjsua2. Each row runs in its own
subprocess (one pjsua2 Endpoint per process; a pjsip assertion aborts only that
worker): the softclock rows re-run this file with ``--worker``, the bare rows run
``bench/bare_pjsua2.py``. Kamailio, sipp and the workers are killed on exit,
exception, Ctrl-C or SIGTERM; a watchdog process kills them as well if the
orchestrator itself dies (even by SIGKILL).

Benchmarks print figures; they pass or fail nothing (exit code 1 only when the
run itself broke).
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402  # noqa: E402
    CHILDREN,
    SCENARIOS,
    bench_main,
    clean_up,
    environment,
    host_port,
    log,
    registrar,
    run_logged,
    start_watched,
)
from tests.helpers.kamailio import HOST, Kamailio, free_udp_port  # noqa: E402
from tests.helpers.sipp import _free_media_port, _udp_port_in_use, register, sipp_binary, unregister  # noqa: E402

REMOTE_BYE = SCENARIOS / "uas_multi_remote_bye.xml"
LOCAL_BYE = SCENARIOS / "uas_multi_local_bye.xml"
USERS = {"alice": "alicepass", "bob": "bobpass"}
CALLER, CALLER_PW = "alice", "alicepass"
CALLEE, CALLEE_PW = "bob", "bobpass"


# ---------------------------------------------------------------- sipp, many calls


class MultiUas:
    """One sipp process registered as bob that answers ``calls`` sequential calls."""

    def __init__(
        self,
        kam: Kamailio,
        scenario: Path,
        calls: int,
        workdir: Path,
        name: str,
        inf: Path | None = None,
        timeout_s: float = 300,
    ) -> None:
        binary = sipp_binary()
        if binary is None:
            raise FileNotFoundError("sipp not found (apt install sip-tester)")
        self.kam = kam
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.local_port = free_udp_port()
        self.action_log = self.dir / "actions.log"
        self.message_log = self.dir / "messages.log"
        self.stdout_log = self.dir / "stdout.log"
        self.cmd = [
            binary,
            "-sf",
            str(scenario),
            "-i",
            HOST,
            "-p",
            str(self.local_port),
            "-mp",
            str(_free_media_port()),
            "-t",
            "u1",
            "-m",
            str(calls),
            "-s",
            CALLEE,
            "-nostdin",
            "-timeout",
            f"{int(timeout_s)}s",
            "-timeout_error",
            "-max_recv_loops",
            "100",
            "-trace_err",
            "-error_file",
            str(self.dir / "errors.log"),
            "-trace_msg",
            "-message_file",
            str(self.message_log),
            "-trace_logs",
            "-log_file",
            str(self.action_log),
        ]
        if inf is not None:
            self.cmd += ["-inf", str(inf)]
        self.proc: subprocess.Popen | None = None
        self.registered = False

    def __enter__(self) -> MultiUas:
        # register bob with Contact on the port sipp will listen on (as tests/helpers/sipp.py's uas() does)
        with register(self.kam, CALLEE, CALLEE_PW, self.local_port) as reg:
            rc = reg.wait(15)
            text = reg.log_text()
        if rc != 0:
            raise RuntimeError(f"sipp could not register {CALLEE} (rc={rc}):\n{text}")
        shutil.rmtree(reg.logdir, ignore_errors=True)
        self.registered = True
        try:
            with open(self.stdout_log, "wb") as out:
                self.proc = CHILDREN.spawn(self.cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(self.dir))
            deadline = time.monotonic() + 5
            while not _udp_port_in_use(self.local_port):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sipp did not start: {self.stdout_log.read_text(errors='replace')}")
                time.sleep(0.005)
        except BaseException:
            self.__exit__()
            raise
        return self

    def wait(self, timeout: float) -> int | None:
        """sipp's exit code (0: every call succeeded), or None if it had to be killed."""
        assert self.proc is not None
        return CHILDREN.finish(self.proc, timeout)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            CHILDREN.kill(self.proc)
        if self.registered:
            self.registered = False
            try:
                with unregister(self.kam, CALLEE, CALLEE_PW, self.local_port) as un:
                    if un.wait(10) == 0:
                        shutil.rmtree(un.logdir, ignore_errors=True)
            except Exception:
                pass

    def events(self) -> dict[str, dict[str, float]]:
        """Call-ID -> {<log> event -> sipp's wall-clock time (TALK_MS: the planned ms)}."""
        out: dict[str, dict[str, float]] = {}
        try:
            text = self.action_log.read_text(errors="replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            m = re.match(r"\s*([A-Z_0-9]+) (\d+(?:\.\d*)?) (\d+(?:\.\d*)?) (\S+)", line)
            if m:
                name, sec, usec, call_id = m.groups()
                value = float(sec) if name == "TALK_MS" else float(sec) + float(usec) / 1e6
                out.setdefault(call_id, {}).setdefault(name, value)
        return out

    def invite_vias(self) -> dict[str, int]:
        """Transport of the caller's Via (the one under Kamailio's) in each INVITE sipp received."""
        counts: dict[str, int] = {}
        try:
            text = self.message_log.read_text(errors="replace")
        except FileNotFoundError:
            return counts
        for block in re.split(r"message received \[\d+\] bytes :", text)[1:]:
            msg = block.lstrip()
            if not msg.startswith("INVITE "):
                continue
            hops: list[str] = []
            for transport, rest in re.findall(r"^(?:Via|v)\s*:\s*SIP/2\.0/(\w+)(.*)$", msg, re.M | re.I):
                hops.append(transport.upper())
                hops += [t.upper() for t in re.findall(r",\s*SIP/2\.0/(\w+)", rest)]
            key = hops[1] if len(hops) > 1 else "?"
            counts[key] = counts.get(key, 0) + 1
        return counts


def challenges(kam: Kamailio) -> int:
    """INVITE auth failures in Kamailio's log so far (no credentials -> 407 challenge)."""
    return len(re.findall(r"INVITE auth_check for \S+ failed", kam.log_text()))


# ---------------------------------------------------------------- statistics


def summary(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"median": None, "p90": None, "min": None, "max": None, "mean": None}
    s = sorted(samples)
    p90 = statistics.quantiles(s, n=10, method="inclusive")[8] if len(s) > 1 else s[0]
    return {"median": statistics.median(s), "p90": p90, "min": s[0], "max": s[-1], "mean": statistics.fmean(s)}


# ---------------------------------------------------------------- workers (subprocesses)


def run_child(cmd: list[str], out: Path, logf: Path, timeout: float) -> dict[str, Any]:
    """Run a worker; return its JSON result (``error`` set if it crashed or timed out)."""
    rc = run_logged(cmd, logf, timeout)
    res: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    res.setdefault("failures", [])
    if rc is None or rc < 0 or not out.exists():
        tail = logf.read_text(errors="replace").strip().splitlines()[-3:]
        how = "timed out" if rc is None else f"exit code {rc}"
        res["error"] = f"worker {how}: " + " | ".join(tail)
    return res


def _engine_with_probe(fix_nodelay: bool) -> tuple[Any, queue.Queue, dict[str, Any]]:
    """A started SipEngine; ``pj.Endpoint.transportCreate`` is wrapped (in this
    worker process only) to record the socket options of the engine's TCP
    transport and, with ``fix_nodelay``, to put TCP_NODELAY there if it has none."""
    import pjsua2 as pj

    from softclock.sip.config import EngineConfig
    from softclock.sip.engine import SipEngine

    probe: dict[str, Any] = {"tcp_sockopts": None, "nodelay_patched": False}
    real = pj.Endpoint.transportCreate

    def transport_create(ep: Any, kind: int, cfg: Any) -> int:
        if kind == pj.PJSIP_TRANSPORT_TCP:
            probe["tcp_sockopts"] = len(cfg.sockOptParams.sockOpts)
            if fix_nodelay and probe["tcp_sockopts"] == 0:
                opts = pj.SockOptVector()
                opts.append(pj.SockOpt(6, 1, 1))  # IPPROTO_TCP, TCP_NODELAY, 1
                cfg.sockOptParams.sockOpts = opts
                probe["nodelay_patched"] = True
        return real(ep, kind, cfg)

    pj.Endpoint.transportCreate = transport_create
    events: queue.Queue = queue.Queue()
    engine = SipEngine(events.put, EngineConfig(bind_address="127.0.0.1", null_audio=True))
    engine.start()
    return engine, events, probe


def _wait_registered(events: queue.Queue, timeout: float = 10.0) -> None:
    from softclock import events as ev

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("softclock did not register in time")
        try:
            e = events.get(timeout=left)
        except queue.Empty:
            continue
        if isinstance(e, ev.RegistrationChanged) and e.state is not ev.RegState.REGISTERING:
            if e.state is not ev.RegState.REGISTERED:
                raise RuntimeError(f"softclock registration failed: {e.code} {e.reason}")
            return


def worker_latency(a: argparse.Namespace, result: dict[str, Any]) -> None:
    from softclock import events as ev
    from softclock.sip.config import AccountConfig

    latencies: list[float | None] = result.setdefault("latencies_ms", [])
    call_ids: list[str] = result.setdefault("call_ids", [])
    failures: list[str] = result["failures"]
    engine, events, probe = _engine_with_probe(a.fix_nodelay)
    result["probe"] = probe
    try:
        engine.set_account(
            AccountConfig(user=CALLER, domain=a.domain, server=a.server, password=CALLER_PW, transport=a.transport)
        )
        _wait_registered(events)
        target = f"sip:{CALLEE}@{a.domain}"
        for i in range(a.total):
            if i:
                time.sleep(a.gap_ms / 1000.0)
            t0 = time.monotonic()
            handle = engine.make_call(target)
            connected: float | None = None
            call_id = ""
            deadline = t0 + 5.0
            hung_up = ended = False
            while not ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    if hung_up:
                        failures.append(f"call {i}: no CallEnded")
                        break
                    engine.hangup(handle)
                    hung_up = True
                    deadline = time.monotonic() + 5.0
                    continue
                try:
                    e = events.get(timeout=left)
                except queue.Empty:
                    continue
                if getattr(e, "handle", None) != handle:
                    continue
                if isinstance(e, ev.CallStarted):
                    call_id = e.call_id
                elif isinstance(e, ev.CallConnected):
                    connected = e.mono
                    engine.hangup(handle)
                    hung_up = True
                elif isinstance(e, ev.CallEnded):
                    ended = True
                elif isinstance(e, ev.CallFailed):
                    failures.append(f"call {i}: {e.message}")
                    break
            latencies.append(None if connected is None else (connected - t0) * 1000.0)
            if connected is None:
                failures.append(f"call {i}: not connected")
            call_ids.append(call_id)
            if len(failures) >= 5:
                failures.append("too many failures; stopped")
                break
    finally:
        engine.shutdown()


def worker_accuracy(a: argparse.Namespace, result: dict[str, Any]) -> None:
    from sqlalchemy import select

    from softclock import events as ev
    from softclock.store.models import Call, TimeEntry
    from tests.helpers.harness import PhoneHarness

    talks = [float(t) for t in a.talks.split(",")]
    failures: list[str] = result["failures"]
    calls: list[dict[str, Any]] = result.setdefault("calls", [])
    phone = PhoneHarness(Path(a.data_dir))
    try:
        phone.account(registrar(a.server, a.domain))  # UDP
        reg = phone.registered()
        if reg.state is not ev.RegState.REGISTERED:
            raise RuntimeError(f"softclock registration failed: {reg.code} {reg.reason}")
        target = f"sip:{CALLEE}@{a.domain}"
        ids: list[str] = []
        for i, talk in enumerate(talks):
            try:
                handle = phone.engine.make_call(target)
                started = phone.wait_for(ev.CallStarted, lambda e, h=handle: e.handle == h, 10)
                phone.wait_for(ev.CallConnected, lambda e, c=started.call_id: e.call_id == c, 10)
                phone.wait_for(ev.CallEnded, lambda e, c=started.call_id: e.call_id == c, talk / 1000 + 10)
                ids.append(started.call_id)
                log(f"accuracy call {i + 1}/{len(talks)} ({talk:.0f} ms planned) done")
            except AssertionError as exc:
                failures.append(f"call {i}: {exc}")
                if len(failures) >= 3:
                    failures.append("too many failures; stopped")
                    break
        with phone.store.session() as s:
            rows = s.execute(
                select(Call.sip_call_id, TimeEntry.raw_seconds, Call.talk_seconds, Call.connect_duration_s)
                .join(TimeEntry, TimeEntry.call_id == Call.id)
                .where(Call.sip_call_id.in_(ids), TimeEntry.status == "draft")
            ).all()
        by_id = {r.sip_call_id: r for r in rows}
        for call_id in ids:
            r = by_id.get(call_id)
            calls.append(
                {
                    "call_id": call_id,
                    "raw_seconds": None if r is None else r.raw_seconds,
                    "talk_seconds": None if r is None else r.talk_seconds,
                    "connect_duration_s": None if r is None else r.connect_duration_s,
                }
            )
    finally:
        phone.close()


def worker_main(a: argparse.Namespace) -> int:
    result: dict[str, Any] = {"failures": []}
    try:
        if a.worker == "latency":
            worker_latency(a, result)
        else:
            worker_accuracy(a, result)
    except Exception as exc:
        result["failures"].append(f"fatal: {type(exc).__name__}: {exc}")
        raise
    finally:
        Path(a.out).write_text(json.dumps(result))
    return 0


# ---------------------------------------------------------------- 1. latency rows


class Bench:
    def __init__(self, kam: Kamailio, workdir: Path, args: argparse.Namespace) -> None:
        self.kam = kam
        self.workdir = workdir
        self.args = args
        self.seq = 0

    def _paths(self, slug: str) -> tuple[Path, Path]:
        self.seq += 1
        base = self.workdir / f"{self.seq:02d}-{slug}"
        return base.with_suffix(".json"), base.with_suffix(".log")

    def latency_row(
        self, label: str, transport: str, impl: str, threads: int = 0, fix_nodelay: bool = False
    ) -> dict[str, Any]:
        a, kam = self.args, self.kam
        total = a.calls + a.warmup
        slug = f"{transport}-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        out, logf = self._paths(slug)
        server = host_port(kam)
        if impl == "bare":
            cmd = [
                sys.executable,
                str(BENCH / "bare_pjsua2.py"),
                "--server",
                server,
                "--domain",
                kam.domain,
                "--user",
                CALLER,
                "--password",
                CALLER_PW,
                "--target",
                f"sip:{CALLEE}@{kam.domain}",
                "--transport",
                transport,
                "--calls",
                str(total),
                "--threads",
                str(threads),
                "--gap-ms",
                str(a.gap_ms),
                "--out",
                str(out),
            ]
        else:
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                "latency",
                "--server",
                server,
                "--domain",
                kam.domain,
                "--transport",
                transport,
                "--total",
                str(total),
                "--gap-ms",
                str(a.gap_ms),
                "--out",
                str(out),
            ]
            if fix_nodelay:
                cmd.append("--fix-nodelay")
        log(f"latency: {transport.upper()} {label} ({total} calls) ...")
        before = challenges(kam)
        with MultiUas(kam, REMOTE_BYE, total, self.workdir, f"sipp-{self.seq:02d}-{slug}") as far:
            res = run_child(cmd, out, logf, timeout=60 + total * (1 + a.gap_ms / 1000))
            rc = far.wait(10)
            vias = far.invite_vias()
        time.sleep(0.05)  # Kamailio's log is written by another process
        lat = res.get("latencies_ms", [])
        measured = [x for x in lat[a.warmup :] if x is not None]
        row: dict[str, Any] = {
            "transport": transport.upper(),
            "implementation": label,
            "calls": a.calls,
            "connected": len(measured),
            "stats_ms": summary(measured),
            "samples_ms": lat[a.warmup :],
            "warmup_ms": lat[: a.warmup],
            "challenges_407": challenges(kam) - before,
            "invites_sent": len(lat),
            "caller_via": vias,
            "sipp_rc": rc,
            "failures": res["failures"],
        }
        for key in ("error", "probe", "pjsua2_version"):
            if key in res:
                row[key] = res[key]
        st = row["stats_ms"]
        log(
            f"  median {_f(st['median'])} ms, p90 {_f(st['p90'])} ms ({row['connected']}/{a.calls} connected)"
            + (f"; {row['error']}" if "error" in row else "")
        )
        return row

    # ------------------------------------------------------------ 2. accuracy

    def accuracy(self, n: int) -> dict[str, Any]:
        kam = self.kam
        talks = [2000] if n == 1 else [round(1000 + 2000 * i / (n - 1)) for i in range(n)]
        inf = self.workdir / "talk_ms.csv"
        inf.write_text("SEQUENTIAL\n" + "".join(f"{t};\n" for t in talks))
        out, logf = self._paths("accuracy")
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "accuracy",
            "--server",
            host_port(kam),
            "--domain",
            kam.domain,
            "--talks",
            ",".join(map(str, talks)),
            "--data-dir",
            str(self.workdir / "data"),
            "--out",
            str(out),
        ]
        log(f"capture accuracy: {n} calls, {sum(talks) / 1000:.0f} s of talk ...")
        with MultiUas(kam, LOCAL_BYE, n, self.workdir, f"sipp-{self.seq:02d}-accuracy", inf=inf) as far:
            res = run_child(cmd, out, logf, timeout=60 + sum(talks) / 1000 + 5 * n)
            rc = far.wait(10)
            far_events = far.events()
        per_call: list[dict[str, Any]] = []
        for c in res.get("calls", []):
            fe = far_events.get(c["call_id"], {})
            far_s = fe["BYE_SENT"] - fe["ACK_RECEIVED"] if "BYE_SENT" in fe and "ACK_RECEIVED" in fe else None
            raw = c["raw_seconds"]
            per_call.append(
                {
                    **c,
                    "planned_ms": fe.get("TALK_MS"),
                    "far_end_s": far_s,
                    "error_ms": (raw - far_s) * 1000.0 if raw is not None and far_s is not None else None,
                }
            )
        signed = [c["error_ms"] for c in per_call if c["error_ms"] is not None]
        errors = [abs(e) for e in signed]
        result = {
            "calls": n,
            "measured": len(errors),
            "sipp_rc": rc,
            "failures": res["failures"],
            "per_call": per_call,
            "median_abs_error_ms": statistics.median(errors) if errors else None,
            "max_abs_error_ms": max(errors) if errors else None,
            "mean_error_ms": statistics.fmean(signed) if signed else None,
            "within_50ms": len(errors) == n and max(errors) <= 50.0,
        }
        if "error" in res:
            result["error"] = res["error"]
        return result


# ---------------------------------------------------------------- output


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def print_table(report: dict[str, Any]) -> None:
    env, par = report["environment"], report["parameters"]
    print("softclock call-set-up benchmark")
    print(
        f"  Kamailio {env['kamailio']} on {env['proxy']} (digest auth), sipp {env['sipp']} UAS as {CALLEE}, "
        f"pjsua2-python {env['pjsua2']}, Python {env['python']}, {env['cpus']} CPUs"
    )
    lat = report["latency"]
    if lat:
        print()
        warm = par["warmup"]
        print(
            f"1) makeCall -> CONFIRMED through Kamailio (INVITE challenged with 407), ms: {par['calls']} "
            f"sequential calls per row, after {warm} warm-up call{'s' if warm != 1 else ''}, {par['gap_ms']} ms apart"
        )
        head = (
            f"  {'transport':<9} {'implementation':<36} {'ok':>5} {'407s':>7} {'median':>7} {'p90':>7} "
            f"{'min':>7} {'max':>7}  caller Via"
        )
        print(head)
        print("  " + "-" * (len(head) - 2))
        for r in lat:
            st = r["stats_ms"]
            via = ", ".join(f"{k} {v}" for k, v in sorted(r["caller_via"].items())) or "-"
            print(
                f"  {r['transport']:<9} {r['implementation']:<36} {r['connected']:>2}/{r['calls']:<2} "
                f"{r['challenges_407']:>3}/{r['invites_sent']:<3} {_f(st['median']):>7} {_f(st['p90']):>7} "
                f"{_f(st['min']):>7} {_f(st['max']):>7}  {via}"
            )
        for r in lat:
            if r["failures"] or r["sipp_rc"] != 0 or "error" in r:
                print(
                    f"  ! {r['transport']} {r['implementation']}: sipp rc={r['sipp_rc']} "
                    f"{r.get('error', '')} {r['failures'][:3]}"
                )
        print("  ok = measured calls that reached CONFIRMED; 407s = INVITEs Kamailio challenged / INVITEs sent")
        print("  (incl. warm-up); caller Via = transport of the caller's Via in the INVITEs sipp received")
        print("  (the Kamailio -> sipp leg is UDP). softclock: make_call() -> CallConnected.mono;")
        print("  bare: makeCall() -> onCallState(CONFIRMED); both connect audio to the null device on media state.")
        probes = [
            r["probe"] for r in lat if r["transport"] == "TCP" and "probe" in r and "fix" not in r["implementation"]
        ]
        if probes and probes[0].get("tcp_sockopts") is not None:
            n = probes[0]["tcp_sockopts"]
            print(
                f"  softclock's TCP transport config carried {n} socket option(s) in sockOptParams.sockOpts"
                + (": TCP_NODELAY is NOT applied." if n == 0 else ".")
            )
        if any(r.get("probe", {}).get("nodelay_patched") for r in lat):
            print("  * diagnostic: the benchmark wrapped pjsua2's Endpoint.transportCreate (in the worker) to put")
            print("    TCP_NODELAY into sockOptParams.sockOpts; softclock/sip/engine.py sets `sockOptions`, a name")
            print("    the SWIG proxy silently accepts and pjsip never sees. engine.py itself is unchanged.")
    acc = report["accuracy"]
    if acc:
        print()
        print(f"2) Capture accuracy: {acc['calls']} calls through PhoneHarness (engine + capture + SQLite), UDP;")
        print("   far end = sipp ACK received -> BYE sent; error = store raw_seconds - far end")
        print(
            f"  {'#':>3} {'planned s':>9} {'far end s':>10} {'raw_seconds':>12} {'error ms':>9} "
            f"{'pjsua2 connectDuration s':>25}"
        )
        for i, c in enumerate(acc["per_call"], 1):
            planned = None if c["planned_ms"] is None else c["planned_ms"] / 1000
            print(
                f"  {i:>3} {_f(planned, '{:.3f}'):>9} {_f(c['far_end_s'], '{:.6f}'):>10} "
                f"{_f(c['raw_seconds'], '{:.6f}'):>12} {_f(c['error_ms'], '{:+.2f}'):>9} "
                f"{_f(c['connect_duration_s'], '{:.3f}'):>25}"
            )
        print(
            f"  measured {acc['measured']}/{acc['calls']}: |error| median {_f(acc['median_abs_error_ms'])} ms, "
            f"max {_f(acc['max_abs_error_ms'])} ms; mean signed error {_f(acc['mean_error_ms'], '{:+.2f}')} ms; "
            f"all within 50 ms: {'yes' if acc['within_50ms'] else 'NO'}"
        )
        if acc["failures"] or acc["sipp_rc"] != 0 or "error" in acc:
            print(f"  ! sipp rc={acc['sipp_rc']} {acc.get('error', '')} {acc['failures'][:3]}")
    print()
    print(f"  total wall time {report['wall_s']:.1f} s")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="softclock call set-up latency and capture accuracy (prints figures)")
    ap.add_argument("--calls", type=int, default=50, help="measured calls per latency row (default 50; 0 skips)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured calls before each latency row (default 2)")
    ap.add_argument(
        "--gap-ms",
        type=int,
        default=50,
        help="pause between latency calls (default 50; much less makes pjsip abort: closed RTP "
        "sockets stay in its 64-slot ioqueue for ~0.5 s)",
    )
    ap.add_argument("--accuracy-calls", type=int, default=20, help="capture accuracy calls (default 20; 0 skips)")
    ap.add_argument("--transports", default="udp,tcp", help="comma list of udp,tcp (default both)")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare pjsua2 rows")
    ap.add_argument("--no-fix-row", action="store_true", help="skip the diagnostic TCP row with TCP_NODELAY patched in")
    ap.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work dir with all logs")
    # internal: worker subprocess mode
    ap.add_argument("--worker", choices=("latency", "accuracy"), help=argparse.SUPPRESS)
    ap.add_argument("--server", help=argparse.SUPPRESS)
    ap.add_argument("--domain", help=argparse.SUPPRESS)
    ap.add_argument("--transport", default="udp", help=argparse.SUPPRESS)
    ap.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--fix-nodelay", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--talks", default="", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.transport_list = [t.strip().lower() for t in args.transports.split(",") if t.strip()]
    if any(t not in ("udp", "tcp") for t in args.transport_list):
        ap.error("--transports takes udp and/or tcp")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="softclock-bench-call-setup-"))
    kam = Kamailio(workdir / "kamailio", USERS)
    report: dict[str, Any] = {
        "environment": environment(),
        "parameters": {
            "calls": args.calls,
            "warmup": args.warmup,
            "gap_ms": args.gap_ms,
            "accuracy_calls": args.accuracy_calls,
            "transports": args.transport_list,
        },
        "latency": [],
        "accuracy": None,
    }
    ok = False
    try:
        start_watched(kam)
        report["environment"]["proxy"] = host_port(kam)
        log(f"Kamailio on {kam.host}:{kam.port}; work dir {workdir}")
        bench = Bench(kam, workdir, args)
        if args.calls > 0:
            for transport in args.transport_list:
                row = bench.latency_row("softclock SipEngine", transport, "softclock")
                report["latency"].append(row)
                if not args.no_bare:
                    report["latency"].append(
                        bench.latency_row("bare pjsua2, threadCnt=1 (worker)", transport, "bare", threads=1)
                    )
                    report["latency"].append(
                        bench.latency_row("bare pjsua2, threadCnt=0 (polling)", transport, "bare", threads=0)
                    )
                if transport == "tcp" and not args.no_fix_row and row.get("probe", {}).get("tcp_sockopts") == 0:
                    report["latency"].append(
                        bench.latency_row(
                            "softclock SipEngine + NODELAY fix*", transport, "softclock", fix_nodelay=True
                        )
                    )
        if args.accuracy_calls > 0:
            report["accuracy"] = bench.accuracy(args.accuracy_calls)
        report["wall_s"] = time.monotonic() - started
        ok = True
    finally:
        clean_up([kam], workdir, keep_logs=not ok or args.keep)
    return report


def main(argv: list[str] | None = None) -> int:
    return bench_main(parse_args(argv), worker_main, run, print_table)


if __name__ == "__main__":
    sys.exit(main())
