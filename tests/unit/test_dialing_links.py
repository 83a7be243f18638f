"""Links a browser or a mail client hands to ``softclock dial``: callto:, tel: (RFC 3966), sip:, sips:."""

from __future__ import annotations

import pytest

from softclock.dialing import DialError, DialTarget, parse_dial, to_sip_uri


@pytest.mark.parametrize(
    ("link", "uri"),
    [
        # callto: the scheme and an optional // go; then a number or user@host.
        ("callto:+12025550143", "sip:+12025550143@sip.test"),
        ("callto://+12025550143", "sip:+12025550143@sip.test"),
        ("CALLTO://+1 (202) 555-0143", "sip:+12025550143@sip.test"),
        ("callto:%2B1%20202%20555%200143", "sip:+12025550143@sip.test"),
        ("callto://bob@example.org", "sip:bob@example.org"),
        ("callto:bob", "sip:bob@sip.test"),
        ("callto://bob/", "sip:bob@sip.test"),
        ("callto://bob?call", "sip:bob@sip.test"),
        # tel: percent-decoded, visual separators removed.
        ("tel:%2B12025550143", "sip:+12025550143@sip.test"),
        ("tel:+1-202-555-0143", "sip:+12025550143@sip.test"),
        ("tel:+1.202.555.0143", "sip:+12025550143@sip.test"),
        ("tel:+1(202)555-0143", "sip:+12025550143@sip.test"),
        ("tel:+1%20(202)%20555-0143", "sip:+12025550143@sip.test"),
        ("tel:+1 202 555 0143", "sip:+12025550143@sip.test"),
        ("TEL:+442079460018", "sip:+442079460018@sip.test"),
        ("tel://+12025550143/", "sip:+12025550143@sip.test"),
        # tel: parameters: a domain phone-context is where a local number lives; a prefix one is dropped.
        ("tel:7042;phone-context=example.com", "sip:7042@example.com"),
        ("tel:863-1234;phone-context=+1-914-555", "sip:8631234@sip.test"),
        ("tel:+12025550143;phone-context=example.com", "sip:+12025550143@sip.test"),
        ("tel:+12025550143;isub=1411;foo=bar", "sip:+12025550143@sip.test"),
        ("tel:+12025550143;ext=12", "sip:+12025550143@sip.test"),
        ("tel:%2B1-202-555-0143;EXT=1-2", "sip:+12025550143@sip.test"),
        # sip: and sips: keep their parameters and drop their headers.
        ("sip:bob@example.org?subject=Lease&priority=urgent", "sip:bob@example.org"),
        ("sip:bob@10.0.0.1:5080;transport=tcp?subject=x", "sip:bob@10.0.0.1:5080;transport=tcp"),
        ("sip:%2B1%20202%20555%200143@example.org", "sip:+12025550143@example.org"),
        ("sip:bob?subject=x", "sip:bob@sip.test"),
        ("sips:bob@example.org", "sips:bob@example.org"),
        ("sips:+1 202 555 0143@example.org;transport=tls?x=y", "sips:+12025550143@example.org;transport=tls"),
        ("SIPS:bob", "sips:bob@sip.test"),
    ],
)
def test_links_become_uris(link: str, uri: str) -> None:
    assert to_sip_uri(link, "sip.test") == uri


def test_an_extension_is_dialled_after_the_number_and_said() -> None:
    target = parse_dial("tel:+12025550143;ext=12", "sip.test")
    assert target == DialTarget("sip:+12025550143@sip.test", "12")
    assert target.note == "Extension 12: type it on the keypad once the call is answered."
    assert parse_dial("tel:+12025550143", "sip.test").note == ""
    assert parse_dial("+1 202 555 0143", "sip.test").note == ""


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("callto:", "Cannot dial 'callto:': the link holds no number or address."),
        ("callto://", "Cannot dial 'callto://': the link holds no number or address."),
        ("tel:", "Cannot dial 'tel:': the link holds no number."),
        ("tel:;ext=5", "Cannot dial 'tel:;ext=5': the link holds no number."),
        (
            "tel:1-800-FLOWERS",
            "Cannot dial 'tel:1-800-FLOWERS': a tel: link holds a phone number (digits, a leading + and - . ( ) only).",
        ),
        (
            "tel:+12025550143;ext=front desk",
            "Cannot dial 'tel:+12025550143;ext=front desk': the extension 'front desk' is not a number.",
        ),
        (
            "tel:7042;phone-context=exa mple",
            "Cannot dial 'tel:7042;phone-context=exa mple': 'exa mple' is not a valid domain name.",
        ),
        ("callto:bob@exa mple.org", "Cannot dial 'callto:bob@exa mple.org': 'exa mple.org' is not a valid host name."),
        (
            "callto:not a number",
            "Cannot dial 'callto:not a number': it contains characters a number or SIP address cannot have (' ').",
        ),
        ("sip:@example.org?x=y", "Cannot dial 'sip:@example.org?x=y': there is no number or user name before '@'."),
    ],
)
def test_bad_links_say_why_in_one_sentence(link: str, message: str) -> None:
    with pytest.raises(DialError) as caught:
        to_sip_uri(link, "sip.test")
    assert str(caught.value) == message


def test_links_without_a_domain_need_an_account() -> None:
    for link in ("tel:+12025550143", "callto:+12025550143", "sip:bob"):
        with pytest.raises(DialError, match="set up an account"):
            to_sip_uri(link, "")
    assert to_sip_uri("tel:7042;phone-context=example.com", "") == "sip:7042@example.com"
