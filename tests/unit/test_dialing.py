import pytest

from softclock.dialing import DialError, display_name, to_sip_uri, uri_user


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("bob", "sip:bob@sip.test"),
        ("201", "sip:201@sip.test"),
        ("+1 (202) 555-0143", "sip:+12025550143@sip.test"),
        ("202.555.0143", "sip:2025550143@sip.test"),
        ("bob@example.org", "sip:bob@example.org"),
        ("sip:bob@10.0.0.1:5080;transport=tcp", "sip:bob@10.0.0.1:5080;transport=tcp"),
        ("SIPS:bob@example.org", "sips:bob@example.org"),
        ("tel:+442079460018", "sip:+442079460018@sip.test"),
        ("  alice  ", "sip:alice@sip.test"),
    ],
)
def test_dial_strings_become_uris(text: str, uri: str) -> None:
    assert to_sip_uri(text, "sip.test") == uri


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Enter a number"),
        ("   ", "Enter a number"),
        ("hello world", "characters"),
        ("bob<script>", "characters"),
        ("sip:@example.org", "no number or user name"),
        ("bob@exa mple.org", "not a valid host"),
        ("bob@", "not a valid host"),
    ],
)
def test_unparseable_dial_strings_say_why(text: str, fragment: str) -> None:
    with pytest.raises(DialError, match=fragment):
        to_sip_uri(text, "sip.test")


def test_dialling_without_a_domain_is_refused() -> None:
    with pytest.raises(DialError, match="set up an account"):
        to_sip_uri("bob", "")


def test_uri_parts() -> None:
    addr = '"Pat Caller" <sip:+12025550143@127.0.0.1:5060;transport=udp>'
    assert uri_user(addr) == "+12025550143"
    assert display_name(addr) == "Pat Caller"
    assert uri_user("sip:bob@x") == "bob"
    assert display_name("sip:bob@x") == ""


def test_bare_address() -> None:
    from softclock.formatting import bare_address

    assert bare_address('"X" <sip:bob@host:5060;transport=udp>') == "bob@host:5060"
    assert bare_address("sips:alice@example.org") == "alice@example.org"
