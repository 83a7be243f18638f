"""A throwaway test PKI for TLS tests, generated with the ``openssl`` command line tool.

Public API::

    make_test_ca(workdir) -> TestCA      # cached per (resolved) workdir
    openssl_binary() -> str | None

``TestCA`` fields (all ``pathlib.Path``, PEM files):

* ``ca_cert`` / ``ca_key``       -- "softclock Test CA" (self-signed, RSA 2048, SHA-256)
* ``server_cert`` / ``server_key`` -- issued by that CA for CN ``sip.test`` with
  subjectAltName ``DNS:sip.test, DNS:localhost, IP:127.0.0.1`` (RSA 2048, SHA-256,
  serverAuth+clientAuth, valid from now for 30 days).  ``server_key`` is
  unencrypted, written as traditional RSA ("BEGIN RSA PRIVATE KEY") so old
  OpenSSL builds (pjsua2's bundled 1.0.2k) can read it too.
* ``server_chain`` -- server certificate followed by the CA certificate.
* ``other_ca_cert`` / ``other_ca_key`` -- a second, unrelated CA with the same
  subject name layout ("softclock Other CA"): trusting only this one must make
  verification of ``server_cert`` fail.
* ``workdir`` -- the directory holding all of the above.

Nothing here touches the network; keys are generated once per workdir and
reused (in-process cache plus the files on disk).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

SERVER_CN = "sip.test"
SERVER_SAN = "DNS:sip.test,DNS:localhost,IP:127.0.0.1"
VALID_DAYS = 30

_lock = threading.Lock()
_cache: dict[Path, TestCA] = {}


@dataclass(frozen=True)
class TestCA:
    __test__ = False  # not a pytest test class

    workdir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    server_chain: Path
    other_ca_cert: Path
    other_ca_key: Path

    def files(self) -> tuple[Path, ...]:
        return (
            self.ca_cert,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.server_chain,
            self.other_ca_cert,
            self.other_ca_key,
        )


def openssl_binary() -> str | None:
    return shutil.which("openssl")


def _run(*args: str, cwd: Path) -> None:
    binary = openssl_binary()
    if binary is None:
        raise FileNotFoundError("openssl command line tool not found")
    res = subprocess.run(
        [binary, *args], cwd=str(cwd), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")


def _rsa_key(path: Path, cwd: Path) -> None:
    # genrsa writes PKCS#8 in OpenSSL 3; convert to traditional PKCS#1 for old readers
    tmp = path.with_suffix(".p8")
    _run("genrsa", "-out", str(tmp), "2048", cwd=cwd)
    _run("rsa", "-in", str(tmp), "-out", str(path), "-traditional", cwd=cwd)
    tmp.unlink()
    path.chmod(0o600)


def _self_signed_ca(cert: Path, key: Path, cn: str, cwd: Path) -> None:
    ext = cwd / f"{cert.stem}.ext"
    ext.write_text(
        "[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n"
        f"[dn]\nO=softclock tests\nCN={cn}\n"
        "[v3_ca]\nbasicConstraints=critical,CA:TRUE\n"
        "keyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\n"
    )
    _rsa_key(key, cwd)
    _run(
        "req",
        "-new",
        "-x509",
        "-sha256",
        "-key",
        str(key),
        "-out",
        str(cert),
        "-days",
        str(VALID_DAYS + 1),
        "-config",
        str(ext),
        "-set_serial",
        "1",
        cwd=cwd,
    )


def _server_cert(ca: TestCA) -> None:
    cwd = ca.workdir
    csr = cwd / "server.csr"
    req_cfg = cwd / "server_req.cnf"
    req_cfg.write_text(f"[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nO=softclock tests\nCN={SERVER_CN}\n")
    ext = cwd / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        f"subjectAltName={SERVER_SAN}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _rsa_key(ca.server_key, cwd)
    _run("req", "-new", "-sha256", "-key", str(ca.server_key), "-out", str(csr), "-config", str(req_cfg), cwd=cwd)
    _run(
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
        "2",
        "-days",
        str(VALID_DAYS),
        "-extfile",
        str(ext),
        "-out",
        str(ca.server_cert),
        cwd=cwd,
    )
    ca.server_chain.write_text(ca.server_cert.read_text() + ca.ca_cert.read_text())


def _valid_on_disk(ca: TestCA) -> bool:
    if not all(p.exists() and p.stat().st_size > 0 for p in ca.files()):
        return False
    binary = openssl_binary()
    if binary is None:
        return False
    # still valid for at least a day, and still issued by this CA
    res = subprocess.run(
        [binary, "x509", "-in", str(ca.server_cert), "-noout", "-checkend", "86400"], capture_output=True, timeout=30
    )
    if res.returncode != 0:
        return False
    res = subprocess.run(
        [binary, "verify", "-CAfile", str(ca.ca_cert), str(ca.server_cert)], capture_output=True, timeout=30
    )
    return res.returncode == 0


def make_test_ca(workdir) -> TestCA:
    """Create (or reuse) the test CA, server certificate and the unrelated CA in workdir."""
    workdir = Path(workdir).resolve()
    with _lock:
        cached = _cache.get(workdir)
        if cached is not None and all(p.exists() for p in cached.files()):
            return cached
        workdir.mkdir(parents=True, exist_ok=True)
        ca = TestCA(
            workdir=workdir,
            ca_cert=workdir / "ca.crt",
            ca_key=workdir / "ca.key",
            server_cert=workdir / "server.crt",
            server_key=workdir / "server.key",
            server_chain=workdir / "server-chain.crt",
            other_ca_cert=workdir / "other-ca.crt",
            other_ca_key=workdir / "other-ca.key",
        )
        if not _valid_on_disk(ca):
            _self_signed_ca(ca.ca_cert, ca.ca_key, "softclock Test CA", workdir)
            _server_cert(ca)
            _self_signed_ca(ca.other_ca_cert, ca.other_ca_key, "softclock Other CA", workdir)
        _cache[workdir] = ca
        return ca
