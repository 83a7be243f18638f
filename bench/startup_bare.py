#!/usr/bin/env python3
"""Baseline for bench/desktop.py and bench/startup.py: a bare PySide6 + pjsua2 softphone window.

No softclock code at all: what the smallest desktop softphone built on the same
two libraries costs. It shows a main window (a label, a line edit and a
button) from ``PySide6.QtWidgets`` alone; once the event loop has painted it,
it imports pjsua2, starts an endpoint (null sound device, one UDP transport on
``--bind``), registers ``--user`` at ``--server`` (registrar and outbound
proxy, digest auth) and pumps pjsua2 from a 10 ms QTimer (``threadCnt=0``,
the simplest safe threading mode, TESTING.md). An incoming call is answered
``180 Ringing`` at once and shows a ringing window (a QDialog with the caller
and Answer/Decline); it goes when the caller gives up.

Usage::

    python bench/startup_bare.py --server 127.0.0.1:5070 --domain sip.test --user alice --password secret
    python bench/startup_bare.py --no-sip      # the window only

It prints nothing of note (its windows are what the benchmarks watch); it
quits on SIGTERM or when its main window is closed, unregistering first.
"""

from __future__ import annotations

import argparse
import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class Phone:
    """pjsua2, imported and started after the window is up."""

    def __init__(self, args: argparse.Namespace, window: QMainWindow, status: QLabel) -> None:
        import pjsua2 as pj

        self.pj = pj
        self.window = window
        self.status = status
        self.calls: dict[int, object] = {}
        self.ringing: QDialog | None = None
        ep = self.ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "bare-pyside6-pjsua2"
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 1
        ep.libInit(cfg)
        t = pj.TransportConfig()
        t.port = 0
        t.boundAddress = args.bind
        t.publicAddress = args.bind
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, t)
        ep.libStart()
        ep.audDevManager().setNullDev()
        phone = self

        class Account(pj.Account):
            def onRegState(self, prm: pj.OnRegStateParam) -> None:
                status.setText(f"Registration: {prm.code} {prm.reason}")

            def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
                call = Call(self, prm.callId)
                phone.calls[prm.callId] = call
                op = pj.CallOpParam()
                op.statusCode = 180
                call.answer(op)
                info = call.getInfo()
                phone.show_ringing(info.remoteUri)

        class Call(pj.Call):
            def onCallState(self, prm: pj.OnCallStateParam) -> None:
                info = self.getInfo()
                if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                    phone.calls.pop(info.id, None)
                    QTimer.singleShot(0, phone.hide_ringing)  # not inside the callback: the Call goes

        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{args.user}@{args.domain}"
        acfg.regConfig.registrarUri = f"sip:{args.server}"
        acfg.regConfig.timeoutSec = 300
        proxies = pj.StringVector()
        proxies.append(f"sip:{args.server};lr")
        acfg.sipConfig.proxies = proxies
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
        acfg.natConfig.contactRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.sipOutboundUse = 0
        self.acc = Account()
        self.acc.create(acfg, True)
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: self.ep.libHandleEvents(0))
        self.timer.start(10)

    def show_ringing(self, caller: str) -> None:
        if self.ringing is None:
            self.ringing = QDialog()
            self.ringing.setWindowTitle("Incoming call")
            layout = QVBoxLayout(self.ringing)
            self.ringing_label = QLabel()
            layout.addWidget(self.ringing_label)
            layout.addWidget(QPushButton("Answer"))
            layout.addWidget(QPushButton("Decline"))
            self.ringing.resize(320, 140)
        self.ringing_label.setText(f"Incoming call from {caller}")
        self.ringing.show()

    def hide_ringing(self) -> None:
        if self.ringing is not None and not self.calls:
            self.ringing.hide()

    def shutdown(self) -> None:
        self.timer.stop()
        self.ep.hangupAllCalls()
        for _ in range(20):
            self.ep.libHandleEvents(10)
        self.calls.clear()
        self.acc.shutdown()
        for _ in range(20):  # the un-REGISTER goes out
            self.ep.libHandleEvents(10)
        del self.acc
        import gc

        gc.collect()
        self.ep.libDestroy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", help="registrar and outbound proxy, host:port")
    ap.add_argument("--domain", default="sip.test")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--no-sip", action="store_true", help="the window only")
    args = ap.parse_args()

    app = QApplication(sys.argv)
    app.setApplicationName("Bare softphone")
    window = QMainWindow()
    window.setWindowTitle("Bare softphone")
    central = QWidget()
    layout = QVBoxLayout(central)
    status = QLabel("Starting…")
    layout.addWidget(status)
    layout.addWidget(QLineEdit())
    layout.addWidget(QPushButton("Call"))
    window.setCentralWidget(central)
    window.resize(420, 300)
    window.show()
    phone: list[Phone] = []
    if not args.no_sip:
        if not args.server:
            ap.error("--server is needed (or --no-sip)")
        QTimer.singleShot(0, lambda: phone.append(Phone(args, window, status)))
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    wake = QTimer()
    wake.timeout.connect(lambda: None)  # lets Python run the signal handlers
    wake.start(250)
    app.aboutToQuit.connect(lambda: phone and phone[0].shutdown())
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
