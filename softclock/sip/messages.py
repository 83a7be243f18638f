"""SIP status codes and failures as sentences a person can act on.

Pure functions: no pjsua2 here, so they are cheap to test exhaustively.
"""

from __future__ import annotations

_CALL = {
    400: "The server did not understand the call request (400).",
    401: "The server refused our credentials (401): check the account's username and password.",
    403: "The server refused the call (403): this account may not call that number.",
    404: "Unknown number or address (404).",
    407: "The proxy refused our credentials (407): check the account's username and password.",
    408: "No answer from the server (408).",
    410: "That number is no longer in service (410).",
    480: "The person you called is unavailable (480).",
    484: "Incomplete or malformed number (484).",
    486: "Busy (486).",
    487: "Call cancelled (487).",
    488: "No common audio codec with the far end (488).",
    500: "The server had an internal error (500).",
    502: "The server could not reach the far end (502).",
    503: "Service unavailable (503): the server or the network could not be reached.",
    504: "The server timed out reaching the far end (504).",
    600: "Busy everywhere (600).",
    603: "The call was declined (603).",
    604: "That number does not exist anywhere (604).",
}


def _is_dns_failure(code: int, reason: str) -> bool:
    low = reason.lower()
    return "eresolve" in low or "resolve" in low or "gethostbyname" in low or "getaddrinfo" in low or "dns" in low


def call_failure(code: int, reason: str = "", host: str = "") -> str:
    """A sentence for a call that ended without being answered."""
    if _is_dns_failure(code, reason):
        return f"Unknown host: {host or 'the server name'} could not be found (DNS lookup failed)."
    if code in _CALL:
        text = _CALL[code]
    elif 400 <= code < 700:
        text = f"The call failed: {reason or 'error'} ({code})."
    else:
        text = f"The call ended: {reason or 'unknown reason'} ({code})."
    return text


def registration(
    code: int,
    reason: str,
    address: str,
    active: bool,
    retry_in_s: int | None,
    server: str = "",
    tls_problem: str = "",
) -> str:
    """A sentence for the registration state after a REGISTER exchange."""
    if active and 200 <= code < 300:
        return f"Registered as {address}"
    if code in (401, 403, 407):
        return f"Wrong username or password ({code})"
    retry = f", retrying in {retry_in_s} s" if retry_in_s else ""
    low = reason.lower()
    if "ecertverif" in low or "certificate" in low:
        detail = tls_problem or "verification failed"
        return f"The server's TLS certificate was refused: {detail} (check the CA file){retry}"
    if "tls" in low or "ssl" in low or "handshake" in low:
        return f"TLS connection to the server failed: {reason}{retry}"
    if _is_dns_failure(code, reason):
        return f"Unknown server host {server or ''} (DNS lookup failed){retry}".replace("host  (", "host (")
    if "network is unreachable" in low or "no route to host" in low:
        return f"No network: the server cannot be reached{retry}"
    if code in (408, 0) or "timeout" in low or "timed out" in low:
        return f"Server not answering{retry}"
    if code == 503 and ("refused" in low or "transport" in low or "connect" in low or "unreachable" in low):
        return f"Server not answering ({reason}){retry}"
    if code == 404:
        return f"Unknown account on this server (404){retry}"
    if 200 <= code < 300:
        return f"Not registered as {address}"
    return f"Registration failed: {reason or 'error'} ({code}){retry}"
