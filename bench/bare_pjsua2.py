"""Bare pjsua2 reference for bench/call_setup.py: no softclock code at all.

Run as a subprocess (only one pjsua2 Endpoint may exist per process)::

    python bench/bare_pjsua2.py --server 127.0.0.1:5070 --domain sip.test \
        --user alice --password alicepass --target sip:bob@sip.test \
        --transport tcp --calls 52 --threads 1 --out result.json

It registers ``user`` with the registrar/outbound proxy ``server``, then places
``calls`` sequential calls to ``target``, ``--gap-ms`` apart. For each call it measures the time
from just before ``Call.makeCall()`` to the ``onCallState`` callback that
reports CONFIRMED (``time.monotonic()`` read first thing in the callback), then
hangs up at once and waits for DISCONNECTED before the next call.

It does what a minimal softphone must do and nothing more: a UDP transport (and
a TCP one with TCP_NODELAY for ``--transport tcp``), the same account settings
as softclock's engine (proxy, digest credentials, no NAT rewriting), null
audio, and audio connected to the (null) sound device in ``onCallMediaState``.

``--threads 1``: pjsua's own worker thread runs the callbacks; the main thread
calls ``makeCall``/``hangup`` and waits on a ``threading.Event``.
``--threads 0``: no worker; the main thread calls ``makeCall`` and then polls
``libHandleEvents(5)``, so the callbacks run on the main thread.

The result is written as JSON to ``--out`` (stdout is left to pjsua's console
log): ``{"latencies_ms": [...], "call_ids": [...], "failures": [...], ...}``,
one latency per call in order (``null`` for a call that did not connect).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time

import pjsua2 as pj

TCP_NODELAY = (6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY, 1


class Writer(pj.LogWriter):
    def write(self, entry: pj.LogEntry) -> None:
        sys.stderr.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")


class Account(pj.Account):
    def __init__(self) -> None:
        super().__init__()
        self.registered = threading.Event()
        self.last_code = 0

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.last_code = int(prm.code)
        if 200 <= prm.code < 300 and self.getInfo().regIsActive:
            self.registered.set()


class Call(pj.Call):
    def __init__(self, ep: pj.Endpoint, acc: Account) -> None:
        super().__init__(acc)
        self.ep = ep
        self.t_confirmed: float | None = None
        self.sip_call_id = ""
        self.status = 0
        self.progress = threading.Event()  # CONFIRMED or DISCONNECTED
        self.disconnected = threading.Event()

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        now = time.monotonic()
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.t_confirmed is None:
            self.t_confirmed = now
            self.sip_call_id = info.callIdString
            self.progress.set()
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.status = int(info.lastStatusCode)
            self.sip_call_id = self.sip_call_id or info.callIdString
            self.progress.set()
            self.disconnected.set()

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        mgr = self.ep.audDevManager()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(index)
                audio.startTransmit(mgr.getPlaybackDevMedia())
                mgr.getCaptureDevMedia().startTransmit(audio)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="registrar and outbound proxy, host:port")
    ap.add_argument("--domain", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--target", required=True, help="SIP URI to call")
    ap.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--threads", type=int, choices=(0, 1), default=1, help="pjsua threadCnt")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--log-level", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=5.0, help="per call step, seconds")
    ap.add_argument(
        "--gap-ms",
        type=int,
        default=50,
        help="pause between calls; with much less pjsip aborts (closed RTP sockets stay in its "
        "64-slot ioqueue for ~0.5 s)",
    )
    ap.add_argument("--out", required=True, help="write the JSON result here")
    args = ap.parse_args(argv)

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = args.threads
    cfg.uaConfig.mainThreadOnly = False
    cfg.uaConfig.userAgent = "bare-pjsua2-bench"
    writer = Writer()
    cfg.logConfig.writer = writer
    cfg.logConfig.level = args.log_level
    cfg.logConfig.consoleLevel = args.log_level
    cfg.logConfig.decor = 0
    ep.libInit(cfg)

    def wait(event: threading.Event, timeout: float) -> bool:
        if args.threads:
            return event.wait(timeout)
        deadline = time.monotonic() + timeout
        while not event.is_set():
            if time.monotonic() >= deadline:
                return False
            ep.libHandleEvents(5)
        return True

    def tcfg() -> pj.TransportConfig:
        t = pj.TransportConfig()
        t.port = 0
        t.boundAddress = args.bind
        t.publicAddress = args.bind
        return t

    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg())
    tcp_id = None
    if args.transport == "tcp":
        t = tcfg()
        opts = pj.SockOptVector()
        opts.append(pj.SockOpt(*TCP_NODELAY))
        # The field is ``sockOpts``: SWIG proxies accept any attribute, so a
        # misspelt ``sockOptions`` is silently ignored (Nagle stays on).
        t.sockOptParams.sockOpts = opts
        tcp_id = ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, t)
    ep.libStart()
    ep.audDevManager().setNullDev()

    tparam = ";transport=tcp" if args.transport == "tcp" else ""
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{args.user}@{args.domain}"
    acfg.regConfig.registrarUri = f"sip:{args.server}{tparam}"
    acfg.regConfig.timeoutSec = 300
    proxies = pj.StringVector()
    proxies.append(f"sip:{args.server};lr{tparam}")
    acfg.sipConfig.proxies = proxies
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
    if tcp_id is not None:
        acfg.sipConfig.transportId = tcp_id
    acfg.natConfig.contactRewriteUse = 0
    acfg.natConfig.viaRewriteUse = 0
    acfg.natConfig.sdpNatRewriteUse = 0
    acfg.natConfig.sipOutboundUse = 0
    acc = Account()
    acc.create(acfg, True)

    result: dict[str, object] = {
        "threads": args.threads,
        "tcp_nodelay": args.transport == "tcp",
        "transport": args.transport,
        "pjsua2_version": ep.libVersion().full,
        "latencies_ms": [],
        "call_ids": [],
        "failures": [],
    }
    latencies: list[float | None] = result["latencies_ms"]  # type: ignore[assignment]
    call_ids: list[str] = result["call_ids"]  # type: ignore[assignment]
    failures: list[str] = result["failures"]  # type: ignore[assignment]
    try:
        if not wait(acc.registered, 10.0):
            raise RuntimeError(f"registration failed (last code {acc.last_code})")
        for i in range(args.calls):
            if i:
                wait(threading.Event(), args.gap_ms / 1000.0)
            call = Call(ep, acc)
            prm = pj.CallOpParam(True)
            t0 = time.monotonic()
            call.makeCall(args.target, prm)
            wait(call.progress, args.timeout)
            if call.t_confirmed is not None:
                latencies.append((call.t_confirmed - t0) * 1000.0)
            else:
                latencies.append(None)
                failures.append(f"call {i}: not CONFIRMED (status {call.status})")
            if not call.disconnected.is_set():
                try:
                    call.hangup(pj.CallOpParam(True))
                except pj.Error as exc:
                    failures.append(f"call {i}: hangup: {exc.info()}")
            if not wait(call.disconnected, args.timeout):
                failures.append(f"call {i}: no DISCONNECTED")
            call_ids.append(call.sip_call_id)
            # Drop the wrapper now: a stale pj.Call deleted after its slot is
            # reused would clear the new call's user data.
            del call
            gc.collect()
            if len(failures) >= 5:
                failures.append("too many failures; stopped")
                break
    except Exception as exc:
        failures.append(f"fatal: {type(exc).__name__}: {exc}")
    finally:
        with open(args.out, "w") as fh:
            json.dump(result, fh)
        try:
            ep.hangupAllCalls()
            acc.shutdown()
            # give the un-REGISTER a moment (it is not waited for)
            wait(threading.Event(), 0.2)
        except pj.Error:
            pass
        del acc
        gc.collect()
        ep.libDestroy()
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
