"""Prove the TLS part of the SIP test infrastructure with a bare pjsua2 client.

No softclock code is used here.  A Kamailio with ``tls=True`` (test CA from
:mod:`tests.helpers.tlsca`) and one pjsua2 Endpoint per test (worker thread,
``threadCnt=1``, ``mainThreadOnly=False``, null sound device, a TLS transport
whose CA list is chosen by the test).  Callbacks only put events on a
queue.Queue which the test waits on with timeouts.

Observed (pjsua2 2.15.1, bundled OpenSSL 1.0.2k, Kamailio 5.6.3 + OpenSSL 3):

* TLS 1.2 with ``ECDHE-RSA-AES256-GCM-SHA384``.  pjsip verifies the server
  certificate against the host of the URI it connected to (``127.0.0.1``); the
  certificate's ``IP:127.0.0.1`` subjectAltName satisfies it, a certificate with
  only ``DNS:sip.test`` fails with ``PJ_SSL_CERT_EIDENTITY_NOT_MATCH``.
* Wrong CA: ``onRegState`` gives code ``503``, reason
  "SSL certificate verification error (PJSIP_TLS_ECERTVERIF)", status 0;
  ``onTransportState`` gives SHUTDOWN (lastError 70014 PJ_ECANCELLED, no TLS
  info), then DISCONNECTED (lastError 171173 PJSIP_TLS_ECERTVERIF,
  ``verifyStatus == PJ_SSL_CERT_EUNTRUSTED``, verifyMsgs
  ["The certificate is untrusted"], handshake established, full remote cert
  info), then DESTROY.
* SRTP mandatory: the INVITE carries ``RTP/SAVP`` with four ``a=crypto`` lines;
  sipp answers plain ``RTP/AVP``, pjsua2's media start fails
  (PJMEDIA_SDP_EINPROTO) and it sends BYE (Reason cause=488) *before* the ACK;
  the call ends DISCONNECTED 488 "Unable to create media session".
"""

from __future__ import annotations

import dataclasses
import gc
import queue
import socket
import ssl
import subprocess
import time
import warnings
import weakref

import pjsua2 as pj
import pytest

from tests.helpers import sipp
from tests.helpers.kamailio import Kamailio
from tests.helpers.pjbare import account_config, close_accounts, endpoint_config, loopback_transport_config, wait_event
from tests.helpers.procs import missing_tool
from tests.helpers.sipfixtures import DEFAULT_USERS, require_sip_tools
from tests.helpers.tlsca import make_test_ca, openssl_binary

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------
# pjsua2 plumbing
# --------------------------------------------------------------------------
class TestEndpoint(pj.Endpoint):
    __test__ = False

    def __init__(self, events: queue.Queue):
        super().__init__()
        self.events = events

    def onTransportState(self, prm):
        ti = prm.tlsInfo
        cert = ti.remoteCertInfo
        sans = [(n.type, n.name) for n in cert.subjectAltName] if not cert.isEmpty() else []
        self.events.put(
            (
                "tp",
                {
                    "state": prm.state,
                    "lastError": prm.lastError,
                    "established": ti.established,
                    "protocol": ti.protocol,
                    "cipherName": ti.cipherName,
                    "verifyStatus": ti.verifyStatus,
                    "verifyMsgs": list(ti.verifyMsgs),
                    "remoteAddr": ti.remoteAddr,
                    "subjectCn": cert.subjectCn if not cert.isEmpty() else None,
                    "issuerCn": cert.issuerCn if not cert.isEmpty() else None,
                    "subjectAltName": sans,
                },
            )
        )


class TestCall(pj.Call):
    __test__ = False

    instances: list = []  # weakrefs of every wrapper, checked before libDestroy()

    def __init__(self, acc: TestAccount, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.events = acc.events
        TestCall.instances.append(weakref.ref(self))

    def onCallState(self, prm):
        ci = self.getInfo()
        self.events.put(("call", ci.state, ci.lastStatusCode, ci.lastReason, time.monotonic()))

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        self.events.put(("media", [(m.type, m.status) for m in ci.media]))


class TestAccount(pj.Account):
    __test__ = False

    instances: list = []  # weakrefs of every wrapper, checked before libDestroy()

    def __init__(self, events: queue.Queue):
        super().__init__()
        self.events = events
        self.calls: list[TestCall] = []
        TestAccount.instances.append(weakref.ref(self))

    def onRegState(self, prm):
        self.events.put(("reg", prm.code, prm.reason, prm.status, prm.expiration))


def is_reg(ev):
    return ev[0] == "reg"


def is_tp(ev):
    return ev[0] == "tp"


def is_call_state(state):
    return lambda ev: ev[0] == "call" and ev[1] == state


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kamailio_tls(tmp_path_factory):
    """A Kamailio with UDP/TCP on .port and TLS on .tls_port (users alice, bob, carol)."""
    require_sip_tools()
    if openssl_binary() is None:
        missing_tool("openssl command line tool missing")
    k = Kamailio(tmp_path_factory.mktemp("kamailio-tls"), DEFAULT_USERS, tls=True)
    k.start()
    try:
        yield k
    finally:
        k.stop()


class PjHarness:
    """One pjsua2 Endpoint with a TLS (client) transport; see the ``pjsip`` fixture."""

    def __init__(self, log_path):
        self.events: queue.Queue = queue.Queue()
        self.log_path = log_path
        self.ep: TestEndpoint | None = None
        self.tls_tid: int | None = None
        self.accounts: list[TestAccount] = []

    def start(self, ca_file) -> PjHarness:
        ep = TestEndpoint(self.events)
        self.ep = ep
        ep.libCreate()
        ep.libInit(endpoint_config(user_agent="tls-infra-test", log_level=5, log_file=self.log_path))

        tcfg = loopback_transport_config(public=True)
        tls = tcfg.tlsConfig
        tls.CaListFile = str(ca_file)
        tls.verifyServer = True
        tls.method = pj.PJSIP_TLSV1_2_METHOD
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2
        tls.msecTimeout = 5000
        opts = pj.SockOptVector()
        opts.append(pj.SockOpt(6, 1, 1))  # IPPROTO_TCP, TCP_NODELAY, 1
        tls.sockOptParams.sockOpts = opts
        self.tls_tid = ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
        ep.libStart()
        ep.audDevManager().setNullDev()
        return self

    def account(
        self, kamailio: Kamailio, user: str, password: str, *, srtp: bool = False, register: bool = True
    ) -> TestAccount:
        cfg = account_config(
            user, password, kamailio.domain, kamailio.tls_registrar_uri if register else None, kamailio.tls_proxy_uri
        )
        cfg.sipConfig.transportId = self.tls_tid
        if srtp:
            cfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY
            cfg.mediaConfig.srtpSecureSignaling = 1
        acc = TestAccount(self.events)
        acc.create(cfg)
        self.accounts.append(acc)
        return acc

    def _close_accounts(self) -> None:
        """Hang up, wait for DISCONNECTED, unregister, shut accounts down, drop wrappers."""
        close_accounts(self.accounts, lambda acc: self.events, lambda ev: is_reg(ev) and ev[4] == 0)
        self.accounts.clear()

    def shutdown(self) -> None:
        if self.ep is None:
            return
        self._close_accounts()
        gc.collect()
        refs = TestCall.instances + TestAccount.instances
        leaked = [w for w in (r() for r in refs) if w is not None]
        for w in leaked:
            # still referenced (e.g. by a failing test's traceback): never let its
            # C++ destructor run after libDestroy() -- that aborts the process
            w.thisown = False
        if leaked:
            warnings.warn(f"pjsua2 wrappers alive at libDestroy (leaked on purpose): {leaked}", stacklevel=2)
        TestCall.instances.clear()
        TestAccount.instances.clear()
        del leaked, refs
        self.ep.libDestroy()
        self.ep = None
        gc.collect()


@pytest.fixture
def pjsip(tmp_path):
    """A started-on-demand pjsua2 harness: ``pjsip.start(ca_file)``; torn down after the test."""
    h = PjHarness(tmp_path / "pjsua.log")
    try:
        yield h
    finally:
        h.shutdown()


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------
def test_test_ca_files(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    assert make_test_ca(tmp_path / "ca") is ca  # cached per workdir
    for path in ca.files():
        assert path.stat().st_size > 0, path
    assert ca.server_key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert ca.other_ca_cert.read_bytes() != ca.ca_cert.read_bytes()
    text = subprocess.run(
        [openssl_binary(), "x509", "-in", str(ca.server_cert), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Subject: O = softclock tests, CN = sip.test" in text, text
    assert "DNS:sip.test, DNS:localhost, IP Address:127.0.0.1" in text, text
    assert "sha256WithRSAEncryption" in text and "Public-Key: (2048 bit)" in text, text
    ok = subprocess.run(
        [openssl_binary(), "verify", "-CAfile", str(ca.ca_cert), str(ca.server_cert)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(
        [openssl_binary(), "verify", "-CAfile", str(ca.other_ca_cert), str(ca.server_cert)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0, bad.stdout


def test_kamailio_tls_listener(kamailio_tls):
    k = kamailio_tls
    assert k.tls_enabled and k.running
    assert k.tls_port != k.port
    assert k.tls_registrar_uri == f"sip:127.0.0.1:{k.tls_port};transport=tls"
    assert k.tls_proxy_uri == f"sip:127.0.0.1:{k.tls_port};transport=tls;lr"
    assert k._probe(1.0)  # UDP as before
    assert k._tcp_ready()  # TCP as before
    assert k.tls_probe(2.0)  # OPTIONS over TLS
    # full verification incl. the name 127.0.0.1 (IP SAN) with Python's ssl
    ctx = ssl.create_default_context(cafile=str(k.tls_ca.ca_cert))
    with socket.create_connection(("127.0.0.1", k.tls_port), timeout=2) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # the unrelated CA must not verify Kamailio's certificate
    ctx = ssl.create_default_context(cafile=str(k.tls_ca.other_ca_cert))
    with socket.create_connection(("127.0.0.1", k.tls_port), timeout=2) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_plain_kamailio_has_no_tls(kamailio):
    assert not kamailio.tls_enabled
    with pytest.raises(RuntimeError):
        _ = kamailio.tls_port


def test_register_over_tls(pjsip, kamailio_tls):
    k = kamailio_tls
    pjsip.start(k.tls_ca.ca_cert)
    alice = pjsip.account(k, "alice", "alicepass")
    seen: list = []
    ev = wait_event(pjsip.events, is_reg, seen=seen)
    assert ev[1] == 200, seen
    assert ev[4] > 0, ev
    info = alice.getInfo()
    assert info.regIsActive and info.regStatus == 200
    tp = [e[1] for e in seen if is_tp(e)]
    assert tp, seen
    t = tp[0]
    assert t["state"] == pj.PJSIP_TP_STATE_CONNECTED, t
    assert t["established"]
    assert t["verifyStatus"] == pj.PJ_SSL_CERT_ESUCCESS, t
    assert t["verifyMsgs"] == ["OK"], t
    assert t["protocol"] == pj.PJ_SSL_SOCK_PROTO_TLS1_2, t
    assert t["cipherName"] == "ECDHE-RSA-AES256-GCM-SHA384", t
    assert t["subjectCn"] == "sip.test", t
    assert t["issuerCn"] == "softclock Test CA", t
    assert (pj.PJ_SSL_CERT_NAME_IP, "127.0.0.1") in t["subjectAltName"], t
    assert f":{k.tls_port}" in t["remoteAddr"], t
    # wrong password over TLS is 403 as over UDP
    bad = pjsip.account(k, "alice", "not-the-password")
    ev = wait_event(pjsip.events, is_reg)
    assert ev[1] == 403, ev
    assert not bad.getInfo().regIsActive


def _failed_tls_registration(pjsip, k):
    """Register alice over TLS when verification will fail: (account, its onRegState
    event, every event up to the transport's DESTROY, which follows the failure)."""
    acc = pjsip.account(k, "alice", "alicepass")
    seen: list = []
    reg = wait_event(pjsip.events, is_reg, seen=seen)
    wait_event(pjsip.events, lambda ev: is_tp(ev) and ev[1]["state"] == pj.PJSIP_TP_STATE_DESTROY, seen=seen)
    return acc, reg, seen


def test_register_over_tls_wrong_ca(pjsip, kamailio_tls):
    k = kamailio_tls
    pjsip.start(k.tls_ca.other_ca_cert)
    acc, reg, seen = _failed_tls_registration(pjsip, k)
    tps = [e[1] for e in seen if is_tp(e)]
    print("onRegState:", reg)
    print("onTransportState:", tps)

    # onRegState: pjsip's transaction layer turns the transport error into 503
    # with the error text as reason; prm.status is 0 (PJ_SUCCESS), not the error
    _, code, reason, status, _expiration = reg
    assert code == 503, seen
    assert reason == "SSL certificate verification error (PJSIP_TLS_ECERTVERIF)", seen
    assert status == 0, seen
    info = acc.getInfo()
    assert not info.regIsActive
    assert info.regStatus == 503

    # onTransportState: SHUTDOWN (no TLS info), DISCONNECTED (full TLS info), DESTROY
    states = [t["state"] for t in tps]
    assert states == [pj.PJSIP_TP_STATE_SHUTDOWN, pj.PJSIP_TP_STATE_DISCONNECTED, pj.PJSIP_TP_STATE_DESTROY], tps
    disc = tps[1]
    assert disc["lastError"] == 171173, disc  # PJSIP_TLS_ECERTVERIF
    assert pjsip.ep.utilStrError(disc["lastError"]) == "SSL certificate verification error (PJSIP_TLS_ECERTVERIF)"
    # the handshake itself completed (verification is checked afterwards) ...
    assert disc["established"], disc
    assert disc["protocol"] == pj.PJ_SSL_SOCK_PROTO_TLS1_2, disc
    assert disc["cipherName"] == "ECDHE-RSA-AES256-GCM-SHA384", disc
    assert disc["subjectCn"] == "sip.test" and disc["issuerCn"] == "softclock Test CA", disc
    # ... and OpenSSL 1.0.2k's "unable to get local issuer certificate" is
    # reported as EUNTRUSTED, not EISSUER_NOT_FOUND
    assert disc["verifyStatus"] == pj.PJ_SSL_CERT_EUNTRUSTED, disc
    assert disc["verifyMsgs"] == ["The certificate is untrusted"], disc
    assert tps[0]["lastError"] == 70014, tps  # PJ_ECANCELLED on the SHUTDOWN notice


def test_srtp_mandatory_offer_over_tls(pjsip, kamailio_tls):
    """SRTP mandatory over TLS: the offer is RTP/SAVP + a=crypto; sipp's plain
    RTP/AVP answer makes pjsua2 end the call (488 "Unable to create media session")."""
    k = kamailio_tls
    pjsip.start(k.tls_ca.ca_cert)
    alice = pjsip.account(k, "alice", "alicepass", srtp=True)
    assert wait_event(pjsip.events, is_reg)[1] == 200
    with sipp.uas(k, "bob", "bobpass", hangup="remote", timeout_s=20) as far:
        alice.calls.append(TestCall(alice))
        alice.calls[-1].makeCall(f"sip:bob@{k.domain}", pj.CallOpParam(True))
        seen: list = []
        ev = wait_event(pjsip.events, is_call_state(pj.PJSIP_INV_STATE_DISCONNECTED), timeout=15, seen=seen)
        rc = far.wait(10)
        msgs = far.messages_text()
        errors = far.log_text()
    print("call events:", [e for e in seen if e[0] == "call"])
    print("sipp exit code:", rc)

    blocks = msgs.split("\n---------------")
    invite = next(b for b in blocks if "\nINVITE sip:bob@" in b)
    assert "m=audio " in invite and " RTP/SAVP " in invite, invite
    assert "a=crypto:" in invite, invite
    assert "RTP/AVP " not in invite, invite  # no best-effort plain RTP alternative

    # the call itself: 200 arrives, media start fails (PJMEDIA_SDP_EINPROTO) and
    # pjsua2 hangs up at once with a BYE carrying Reason cause=488
    assert ev[2] == 488 and ev[3] == "Unable to create media session", seen
    bye = next(b for b in blocks if "\nBYE sip:" in b)
    assert 'Reason: SIP ;cause=488 ;text="Unable to create media session"' in bye, bye
    # pjsip sends that BYE before the ACK for the 200, so sipp's scenario sees an
    # "unexpected BYE" and fails (exit 1); should Kamailio reorder them it passes
    assert rc in (0, 1), errors
    if rc == 1:
        assert "unexpected BYE" in errors, errors


def _issue_server_cert(ca, workdir, san: str):
    """A server certificate from the test CA with only the given subjectAltName."""
    workdir.mkdir(parents=True, exist_ok=True)
    ext = workdir / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={san}\n"
    )
    csr = workdir / "server.csr"
    subprocess.run(
        [
            openssl_binary(),
            "req",
            "-new",
            "-sha256",
            "-key",
            str(ca.server_key),
            "-subj",
            "/O=softclock tests/CN=sip.test",
            "-out",
            str(csr),
        ],
        check=True,
        capture_output=True,
    )
    cert = workdir / "server.crt"
    subprocess.run(
        [
            openssl_binary(),
            "x509",
            "-req",
            "-sha256",
            "-in",
            str(csr),
            "-CA",
            str(ca.ca_cert),
            "-CAkey",
            str(ca.ca_key),
            "-set_serial",
            "7",
            "-days",
            "2",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    chain = workdir / "server-chain.crt"
    chain.write_text(cert.read_text() + ca.ca_cert.read_text())
    return dataclasses.replace(ca, server_cert=cert, server_chain=chain)


def test_server_name_is_checked_against_connected_host(pjsip, kamailio_tls, tmp_path):
    """pjsip checks the certificate against the host of the URI it connected to
    (127.0.0.1): a certificate for DNS:sip.test only fails verification."""
    dns_only = _issue_server_cert(kamailio_tls.tls_ca, tmp_path / "dns-only", "DNS:sip.test")
    k = Kamailio(tmp_path / "kamailio", DEFAULT_USERS, tls_ca=dns_only)
    k.start()
    try:
        pjsip.start(dns_only.ca_cert)
        acc, reg, seen = _failed_tls_registration(pjsip, k)
        assert reg[1] == 503, seen
        assert reg[2] == "SSL certificate verification error (PJSIP_TLS_ECERTVERIF)", seen
        disc = next(e[1] for e in seen if is_tp(e) and e[1]["state"] == pj.PJSIP_TP_STATE_DISCONNECTED)
        assert disc["verifyStatus"] == pj.PJ_SSL_CERT_EIDENTITY_NOT_MATCH, disc
        assert disc["verifyMsgs"] == [
            "The server identity does not match to any identities specified in the certificate"
        ], disc
        assert disc["subjectAltName"] == [(pj.PJ_SSL_CERT_NAME_DNS, "sip.test")], disc
        del acc
    finally:
        pjsip.shutdown()
        k.stop()
