import pytest

from softclock.sip import messages


def test_registered_says_as_whom() -> None:
    assert messages.registration(200, "OK", "alice@sip.test", True, None) == "Registered as alice@sip.test"


@pytest.mark.parametrize("code", [401, 403, 407])
def test_wrong_credentials_say_so(code: int) -> None:
    text = messages.registration(code, "Forbidden", "alice@sip.test", False, None)
    assert text == f"Wrong username or password ({code})"


def test_timeout_says_server_not_answering_with_retry() -> None:
    text = messages.registration(408, "Request Timeout", "a@b", False, 30)
    assert text == "Server not answering, retrying in 30 s"


def test_connection_refused_is_server_not_answering() -> None:
    text = messages.registration(503, "Connection refused", "a@b", False, 30)
    assert text.startswith("Server not answering") and text.endswith("retrying in 30 s")


def test_dns_failure_is_unknown_host() -> None:
    text = messages.registration(502, "gethostbyname() has returned error (PJ_ERESOLVE)", "a@b", False, 30, "pbx.x")
    assert text == "Unknown server host pbx.x (DNS lookup failed), retrying in 30 s"
    call = messages.call_failure(503, "gethostbyname() has returned error (PJ_ERESOLVE)", "other.x")
    assert call == "Unknown host: other.x could not be found (DNS lookup failed)."


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        (404, "Unknown number"),
        (486, "Busy"),
        (487, "cancelled"),
        (488, "codec"),
        (480, "unavailable"),
        (603, "declined"),
    ],
)
def test_call_failures_are_sentences(code: int, fragment: str) -> None:
    assert fragment in messages.call_failure(code, "")


def test_unknown_codes_keep_the_reason() -> None:
    assert "Frobnicated (499)" in messages.call_failure(499, "Frobnicated")


def test_no_route_is_no_network() -> None:
    assert messages.registration(503, "Network is unreachable", "a@b", False, 30) == (
        "No network: the server cannot be reached, retrying in 30 s"
    )
