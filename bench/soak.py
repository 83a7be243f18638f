#!/usr/bin/env python3
"""Benchmark: a soak of many calls in ONE process through the full softclock path.

Run from the project root::

    .venv/bin/python bench/soak.py [--calls 500] [--gap-ms 50] [--incoming-every 5] [--json]

Everything runs on 127.0.0.1: a throw-away Kamailio (``tests/helpers/kamailio.py``,
digest auth, 407 on every INVITE from alice) and sipp far ends.

* One worker subprocess holds a ``PhoneHarness`` (``SipEngine`` + ``Capture`` +
  SQLite store), registers alice and makes all the calls one after another.
* Outgoing calls go to ``bob``: one sipp process registered as bob answers them
  all (``bench/scenarios/uas_multi_either_bye.xml``, ``MultiUas`` from
  ``bench/call_setup.py``). Each call's To URI carries who hangs up
  (``;bye=peer;talk=MS`` or ``;bye=caller``), so one failed call cannot shift
  the plan of the following ones.
* Every ``--incoming-every``-th call is incoming: the worker starts a sipp UAC
  (``bench/scenarios/uac_either_bye.xml``, ``-m 1``) from ``caller@external.test``
  to alice and answers the ringing call with ``engine.answer()``.
* Talk times are spread evenly over ``--talk-ms`` (default 200-500 ms); the side
  that hangs up alternates call by call (even calls: softclock, odd: the peer).
* After each call's ``CallEnded`` (pjsua DISCONNECTED) the worker waits
  ``--gap-ms`` (events keep being handled): closed RTP/RTCP sockets keep a slot of
  pjsip's 64-slot ioqueue for ~0.5 s, and calls placed back to back can abort
  the process with ``pj_ioqueue_register_sock2: Assertion
  '!pj_list_empty(&ioqueue->free_list)'``. The worker's exit code and the
  assertion (if any) are reported.

Figures: calls attempted / answered (``CallConnected``) / recorded in the store
(rows of ``calls`` and draft ``time_entries`` counted with softclock's Store
after the worker has exited, so they are there even after a crash), worker exit
code, RSS (psutil, the worker measures itself) after registration, after 100
calls and after all calls, growth per 100 calls, wall time.

Process clean-up reuses ``bench/_common.py``'s ``Children`` (process groups +
a watchdog process that kills them if this process dies, even by SIGKILL). The
worker has its own ``Children`` for its sipp UACs, so a crash of the worker
(pjsip abort) cannot leave a sipp behind either.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
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
from bench.call_setup import CALLEE, CALLER, USERS, MultiUas, summary  # noqa: E402
from tests.helpers.kamailio import HOST, Kamailio, free_udp_port  # noqa: E402
from tests.helpers.sipp import _free_media_port, sipp_binary  # noqa: E402

UAS_EITHER = SCENARIOS / "uas_multi_either_bye.xml"
UAC_EITHER = SCENARIOS / "uac_either_bye.xml"
ABORT_RE = re.compile(r"Assertion .*failed|Assertion `.*'|pj_ioqueue_register_sock2.*", re.I)


# ---------------------------------------------------------------- the plan


def make_plan(calls: int, incoming_every: int, talk_lo: int, talk_hi: int) -> list[dict[str, Any]]:
    plan = []
    for i in range(calls):
        talk = talk_lo if calls == 1 else round(talk_lo + (talk_hi - talk_lo) * ((i * 37) % calls) / (calls - 1))
        incoming = incoming_every > 0 and i % incoming_every == incoming_every - 1
        plan.append(
            {
                "dir": "in" if incoming else "out",
                "talk_ms": talk,
                "bye": "us" if i % 2 == 0 else "peer",  # who hangs up: alternate sides
            }
        )
    return plan


# ---------------------------------------------------------------- worker (subprocess)


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def worker_main(a: argparse.Namespace) -> int:
    from softclock import events as ev
    from tests.helpers.harness import PhoneHarness

    plan = json.loads(Path(a.plan).read_text())
    out = Path(a.out)
    result: dict[str, Any] = {
        "attempted": 0,
        "answered": 0,
        "ended": 0,
        "failures": [],
        "rss": [],
        "call_ids": [],
        "incoming_sipp_rc": {},
        "setup_ms": [],
        "done": False,
    }

    def save() -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        os.replace(tmp, out)

    phone = PhoneHarness(Path(a.data_dir))
    uac_dir = Path(a.uac_dir)
    sipp = sipp_binary() or "sipp"

    def drain(until: float, stop: Any = None) -> Any:
        """Hand events to capture until ``until`` (monotonic) or an event ``stop(e)`` is true.
        Unlike PhoneHarness.wait_for this keeps no list of seen events (it would grow)."""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            try:
                e = phone.queue.get(timeout=left)
            except queue.Empty:
                return None
            phone.capture.handle(e)
            if isinstance(e, ev.CallFailed):
                result["failures"].append(f"CallFailed: {e.message}")
            if stop is not None and stop(e):
                return e

    def fail(i: int, msg: str) -> None:
        result["failures"].append(f"call {i + 1}: {msg}")
        log(f"call {i + 1}: {msg}")

    try:
        phone.account(registrar(a.server, a.domain))
        reg = phone.registered()
        if reg.state is not ev.RegState.REGISTERED:
            raise RuntimeError(f"alice did not register: {reg.code} {reg.reason}")
        phone.seen.clear()
        result["rss"].append([0, _rss()])
        save()
        t_start = time.monotonic()
        for i, step in enumerate(plan):
            talk = step["talk_ms"] / 1000.0
            result["attempted"] += 1
            uac = None
            handle = None
            call_id = ""
            if step["dir"] == "out":
                uri = (
                    f"sip:{CALLEE}@{a.domain};bye=caller"
                    if step["bye"] == "us"
                    else f"sip:{CALLEE}@{a.domain};bye=peer;talk={step['talk_ms']}"
                )
                t0 = time.monotonic()
                handle = phone.engine.make_call(uri)
                started = drain(
                    t0 + 10, lambda e, h=handle: isinstance(e, (ev.CallStarted, ev.CallFailed)) and e.handle == h
                )
                if not isinstance(started, ev.CallStarted):
                    fail(i, "no CallStarted")
                    continue
                call_id = started.call_id
            else:
                d = uac_dir / f"{i + 1:04d}"
                d.mkdir(parents=True)
                cmd = [
                    sipp,
                    "-sf",
                    str(UAC_EITHER),
                    "-i",
                    HOST,
                    "-p",
                    str(free_udp_port()),
                    "-mp",
                    str(_free_media_port()),
                    "-t",
                    "u1",
                    "-m",
                    "1",
                    "-l",
                    "1",
                    "-s",
                    CALLER,
                    "-nostdin",
                    "-timeout",
                    "30s",
                    "-timeout_error",
                    "-max_recv_loops",
                    "100",
                    "-set",
                    "domain",
                    a.domain,
                    "-set",
                    "talk_ms",
                    str(step["talk_ms"]),
                    "-set",
                    "mode",
                    step["bye"],
                    "-trace_err",
                    "-error_file",
                    str(d / "errors.log"),
                    a.server,
                ]
                with open(d / "stdout.log", "wb") as fh:
                    uac = CHILDREN.spawn(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=str(d))
                t0 = time.monotonic()
                ringing = drain(
                    t0 + 10, lambda e: isinstance(e, ev.CallRinging) and e.direction is ev.Direction.INCOMING
                )
                if ringing is None:
                    fail(i, "incoming call did not ring")
                    CHILDREN.kill(uac)
                    continue
                handle, call_id = ringing.handle, ringing.call_id
                phone.engine.answer(handle, hold_others=False)
            result["call_ids"].append(call_id)
            ended = None
            conn = drain(
                time.monotonic() + 10,
                lambda e, c=call_id: isinstance(e, (ev.CallConnected, ev.CallEnded)) and e.call_id == c,
            )
            if isinstance(conn, ev.CallConnected):
                result["answered"] += 1
                if step["dir"] == "out":
                    result["setup_ms"].append((conn.mono - t0) * 1000.0)
                if step["bye"] == "us":
                    ended = drain(conn.mono + talk, lambda e, c=call_id: isinstance(e, ev.CallEnded) and e.call_id == c)
                    if ended is None:
                        phone.engine.hangup(handle)
                    else:
                        fail(i, f"ended before our hang-up: {ended.sip_status} {ended.reason}")
            else:
                if isinstance(conn, ev.CallEnded):
                    ended = conn
                fail(i, "not connected" + (f": {conn.sip_status} {conn.reason}" if conn else ""))
                phone.engine.hangup(handle)
            if ended is None:
                ended = drain(
                    time.monotonic() + talk + 10, lambda e, c=call_id: isinstance(e, ev.CallEnded) and e.call_id == c
                )
            if ended is None:
                fail(i, "no CallEnded")
                phone.engine.hangup(handle)
                ended = drain(time.monotonic() + 5, lambda e, c=call_id: isinstance(e, ev.CallEnded) and e.call_id == c)
            if ended is not None:
                result["ended"] += 1
                if step["bye"] == "peer" and ended.local_hangup:
                    fail(i, "the peer was to hang up, but the call ended locally")
            # the pace: gap after DISCONNECTED, events still handled
            drain(time.monotonic() + a.gap_ms / 1000.0)
            if uac is not None:
                rc = CHILDREN.finish(uac, 5)
                result["incoming_sipp_rc"][str(rc)] = result["incoming_sipp_rc"].get(str(rc), 0) + 1
                if rc != 0:
                    fail(i, f"incoming sipp exit code {rc}")
            n = i + 1
            if n % 50 == 0 or n == len(plan):
                result["rss"].append([n, _rss()])
                log(f"{n}/{len(plan)} calls, {result['answered']} answered, RSS {result['rss'][-1][1] / 2**20:.1f} MiB")
            if n % 10 == 0 or n == len(plan):  # partial figures survive a crash of this process
                result["elapsed_s"] = time.monotonic() - t_start
                save()
            if len(result["failures"]) >= 20:
                result["failures"].append("too many failures; stopped")
                break
        result["calls_s"] = time.monotonic() - t_start
        result["done"] = True
    except Exception as exc:
        result["failures"].append(f"fatal: {type(exc).__name__}: {exc}")
        raise
    finally:
        save()
        phone.close()
        CHILDREN.close()
    return 0


# ---------------------------------------------------------------- orchestrator


def count_store(data_dir: Path, call_ids: list[str]) -> dict[str, Any]:
    """Rows in the store the worker left behind (softclock's Store; no pjsua2 here)."""
    from sqlalchemy import func, select

    from softclock.store.db import open_store
    from softclock.store.models import Call, TimeEntry

    if not (data_dir / "softclock.db").exists():
        return {"calls": 0}
    store = open_store(data_dir)
    try:
        with store.session() as s:
            by_disp = dict(s.execute(select(Call.disposition, func.count()).group_by(Call.disposition)).all())
            by_dir = dict(s.execute(select(Call.direction, func.count()).group_by(Call.direction)).all())
            total = s.scalar(select(func.count()).select_from(Call))
            entries = s.scalar(select(func.count()).select_from(TimeEntry).where(TimeEntry.status == "draft"))
            talks = s.scalars(select(Call.talk_seconds).where(Call.disposition == "answered")).all()
            known = (
                s.scalar(select(func.count()).select_from(Call).where(Call.sip_call_id.in_(call_ids)))
                if call_ids
                else 0
            )
    finally:
        store.close()
    return {
        "calls": total,
        "by_disposition": by_disp,
        "by_direction": by_dir,
        "draft_entries": entries,
        "matching_call_ids": known,
        "talk_s": summary(list(talks)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="softclock-bench-soak-"))
    args.workdir = workdir
    kam = Kamailio(workdir / "kamailio", USERS)
    plan = make_plan(args.calls, args.incoming_every, *args.talk_range)
    n_out = sum(1 for p in plan if p["dir"] == "out")
    report: dict[str, Any] = {
        "environment": environment(),
        "parameters": {
            "calls": args.calls,
            "outgoing": n_out,
            "incoming": len(plan) - n_out,
            "gap_ms": args.gap_ms,
            "talk_ms": list(args.talk_range),
            "incoming_every": args.incoming_every,
        },
    }
    ok = False
    try:
        start_watched(kam)
        log(f"Kamailio on {kam.host}:{kam.port}; work dir {workdir}")
        (workdir / "plan.json").write_text(json.dumps(plan))
        out, logf, data = workdir / "worker.json", workdir / "worker.log", workdir / "data"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--server",
            host_port(kam),
            "--domain",
            kam.domain,
            "--plan",
            str(workdir / "plan.json"),
            "--gap-ms",
            str(args.gap_ms),
            "--data-dir",
            str(data),
            "--uac-dir",
            str(workdir / "uac"),
            "--out",
            str(out),
        ]
        budget = 60 + sum(p["talk_ms"] for p in plan) / 1000 + len(plan) * (1.0 + args.gap_ms / 1000)
        log(f"soak: {len(plan)} calls ({n_out} outgoing, {len(plan) - n_out} incoming), gap {args.gap_ms} ms ...")
        t0 = time.monotonic()
        with MultiUas(kam, UAS_EITHER, n_out, workdir, "sipp-uas", timeout_s=budget + 30) as far:
            rc = run_logged(cmd, logf, budget)
            wall_worker = time.monotonic() - t0
            sipp_rc = far.wait(10)
        res: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        text = logf.read_text(errors="replace")
        aborts = sorted({m.group(0).strip() for m in ABORT_RE.finditer(text)})
        rss = res.get("rss", [])
        rss_at = {n: v for n, v in rss}
        first = rss_at.get(0)
        after100 = rss_at.get(100)
        last_n, last = rss[-1] if rss else (None, None)
        growth = None
        if after100 is not None and last_n and last_n > 100:
            growth = (last - after100) / ((last_n - 100) / 100)
        elif first is not None and last_n:
            growth = (last - first) / (last_n / 100)
        report["worker"] = {
            "exit_code": rc,
            "crashed": rc is None or rc != 0,
            "signal": signal.Signals(-rc).name if rc is not None and rc < 0 else None,
            "assertions": aborts,
            "log_tail": text.strip().splitlines()[-5:] if (rc != 0 or not res.get("done")) else [],
            "wall_s": wall_worker,
            "calls_s": res.get("calls_s"),
        }
        report["calls"] = {
            "attempted": res.get("attempted", 0),
            "answered": res.get("answered", 0),
            "ended": res.get("ended", 0),
            "failures": res.get("failures", []),
            "setup_ms": summary(res.get("setup_ms", [])),
            "incoming_sipp_rc": res.get("incoming_sipp_rc", {}),
            "uas_sipp_rc": sipp_rc,
        }
        report["store"] = count_store(data, res.get("call_ids", []))
        report["rss"] = {
            "samples": rss,
            "before_first_call": first,
            "after_100": after100,
            "after_last": last,
            "last_n": last_n,
            "growth_per_100_calls": growth,
        }
        report["wall_s"] = time.monotonic() - started
        ok = True
    finally:
        broke = not ok or report.get("worker", {}).get("crashed")
        clean_up([kam], workdir, keep_logs=broke or args.keep)
    return report


def _mib(x: float | None) -> str:
    return "-" if x is None else f"{x / 2**20:.1f} MiB"


def print_report(r: dict[str, Any]) -> None:
    env, par, w, c, st, rss = r["environment"], r["parameters"], r["worker"], r["calls"], r["store"], r["rss"]
    print("softclock soak benchmark (one worker process: PhoneHarness = SipEngine + Capture + SQLite store)")
    print(
        f"  Kamailio {env['kamailio']} (digest auth, 407 on INVITE), sipp {env['sipp']}, pjsua2-python "
        f"{env['pjsua2']}, Python {env['python']}, {env['cpus']} CPUs"
    )
    print(
        f"  plan: {par['calls']} sequential calls ({par['outgoing']} outgoing to a sipp UAS registered as bob, "
        f"{par['incoming']} incoming from a sipp UAC, 1 call in {par['incoming_every']});"
    )
    print(
        f"  talk {par['talk_ms'][0]}-{par['talk_ms'][1]} ms; hang-up side alternates (softclock / peer); "
        f"{par['gap_ms']} ms gap after each DISCONNECTED"
    )
    print()
    print(f"  calls attempted           {c['attempted']}")
    print(
        f"  calls answered            {c['answered']}   (CallConnected; outgoing make_call -> connected median "
        f"{c['setup_ms']['median'] or 0:.1f} ms, max {c['setup_ms']['max'] or 0:.1f} ms)"
    )
    print(f"  calls ended               {c['ended']}")
    print(
        f"  recorded in the store     {st.get('calls', 0)} call rows "
        f"({', '.join(f'{k} {v}' for k, v in sorted(st.get('by_disposition', {}).items())) or '-'}; "
        f"{', '.join(f'{k} {v}' for k, v in sorted(st.get('by_direction', {}).items())) or '-'}), "
        f"{st.get('draft_entries', 0)} draft time entries, {st.get('matching_call_ids', 0)} rows match the "
        f"worker's Call-IDs"
    )
    ts = st.get("talk_s") or {}
    if ts.get("median") is not None:
        print(f"  stored talk_seconds       median {ts['median']:.3f} s, min {ts['min']:.3f}, max {ts['max']:.3f}")
    crash = "no" if not w["crashed"] else "YES" + (f" ({w['signal']})" if w["signal"] else "")
    print(
        f"  worker crashed            {crash}; exit code {w['exit_code']}"
        + (" (killed: time budget exceeded)" if w["exit_code"] is None else "")
    )
    print(
        f"  ioqueue assertion         {'; '.join(w['assertions']) if w['assertions'] else 'not hit'} "
        f"at a {par['gap_ms']} ms gap"
    )
    print(f"  RSS before first call     {_mib(rss['before_first_call'])}")
    print(f"  RSS after 100 calls       {_mib(rss['after_100'])}")
    label = f"RSS after {rss['last_n']} calls"
    print(f"  {label:<26}{_mib(rss['after_last'])}")
    g = rss["growth_per_100_calls"]
    basis = "after 100 -> last" if rss["after_100"] is not None and (rss["last_n"] or 0) > 100 else "first -> last"
    print(f"  growth per 100 calls      {'-' if g is None else f'{g / 1024:+.0f} KiB'} ({basis})")
    print("  RSS samples               " + ", ".join(f"{n}: {v / 2**20:.1f}" for n, v in rss["samples"]) + " (MiB)")
    print(
        f"  sipp exit codes           UAS {c['uas_sipp_rc']}, incoming UACs "
        f"{', '.join(f'rc {k}: {v}' for k, v in c['incoming_sipp_rc'].items()) or '-'}"
    )
    if c["failures"]:
        print(f"  failures ({len(c['failures'])}): " + " | ".join(c["failures"][:5]))
    if w["log_tail"]:
        print("  worker log tail: " + " | ".join(w["log_tail"]))
    calls_s = w.get("calls_s")
    print(
        f"  wall time                 {r['wall_s']:.1f} s total"
        + (
            f", {calls_s:.1f} s for the calls ({calls_s / max(1, c['attempted']) * 1000:.0f} ms per call)"
            if calls_s
            else ""
        )
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="softclock soak: many calls in one process (prints figures)")
    ap.add_argument("--calls", type=int, default=500, help="calls in total (default 500)")
    ap.add_argument("--gap-ms", type=int, default=50, help="pause after each DISCONNECTED (default 50)")
    ap.add_argument(
        "--incoming-every",
        type=int,
        default=5,
        help="every Nth call is incoming from a sipp UAC (default 5; 0 = outgoing only)",
    )
    ap.add_argument("--talk-ms", default="200-500", help="talk time range in ms (default 200-500)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    ap.add_argument("--keep", action="store_true", help="keep the work dir with all logs")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--server", help=argparse.SUPPRESS)
    ap.add_argument("--domain", help=argparse.SUPPRESS)
    ap.add_argument("--plan", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--uac-dir", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    lo, _, hi = a.talk_ms.partition("-")
    a.talk_range = (int(lo), int(hi or lo))
    if a.calls < 1:
        ap.error("--calls must be >= 1")
    return a


def main(argv: list[str] | None = None) -> int:
    return bench_main(
        parse_args(argv),
        worker_main,
        run,
        print_report,
        lambda report: 1 if report["worker"]["exit_code"] is None else 0,
    )


if __name__ == "__main__":
    sys.exit(main())
