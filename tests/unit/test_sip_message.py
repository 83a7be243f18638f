"""The From header and pjsua2's strings, whatever a caller sends (softclock.sip.sipmsg)."""

from __future__ import annotations

import pytest

from softclock.sip.sipmsg import (
    NameAddr,
    caller,
    clean,
    decode,
    from_wire,
    normal_ip,
    parse_message,
    parse_name_addr,
    parse_rx_log,
    split_source,
    uri_user,
)


def _swig(raw: bytes) -> str:
    """What pjsua2 hands Python for these bytes (SWIG decodes with surrogateescape)."""
    return raw.decode("utf-8", "surrogateescape")


def _no_surrogates(text: str) -> bool:
    return not any("\ud800" <= ch <= "\udfff" for ch in text)


def test_latin1_from_a_gateway_reads_as_latin1() -> None:
    assert clean(_swig(b"M\xfcller")) == "Müller"
    assert decode(b"M\xfcller") == "Müller"


def test_utf8_stays_utf8_and_ascii_is_untouched() -> None:
    assert clean(_swig("Müller Ωmega".encode())) == "Müller Ωmega"
    text = "Pat Caller"
    assert clean(text) is text


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe", b"\xed\xa0\x80", b"ok \xc3", b"\x80" * 300, "Müller".encode() + b"\xfc", b"\x00\x1b[2J"],
)
def test_no_lone_surrogate_ever_survives(raw: bytes) -> None:
    text = clean(_swig(raw))
    assert _no_surrogates(text)
    text.encode("utf-8")  # what the store and the log do with it


def test_from_wire_gives_back_the_bytes() -> None:
    raw = b'From: "M\xfcller" <sip:1@x>'
    assert from_wire(_swig(raw)) == raw
    assert from_wire("\ud800") == b"?"  # not from SWIG: replaced, not raised


@pytest.mark.parametrize(
    ("value", "display", "uri", "tag"),
    [
        (b'"Pat Caller" <sip:+12025550143@ext.test>;tag=abc', "Pat Caller", "sip:+12025550143@ext.test", "abc"),
        (b"<sip:+12025550143@ext.test>;tag=abc", "", "sip:+12025550143@ext.test", "abc"),
        (b"sip:+12025550143@ext.test;tag=abc", "", "sip:+12025550143@ext.test", "abc"),
        (b"Pat   Caller <sip:pat@ext.test>;tag=1", "Pat Caller", "sip:pat@ext.test", "1"),
        (b'"a<b" <sip:+4930123@gw.test>;tag=t', "a<b", "sip:+4930123@gw.test", "t"),
        (b'"<sip:evil@x>" <sip:+4930123@gw.test>;tag=t', "<sip:evil@x>", "sip:+4930123@gw.test", "t"),
        (b'"say \\"hi\\" \\\\o/" <sip:1@x>;tag=t', 'say "hi" \\o/', "sip:1@x", "t"),
        (b'"a;b,c>d" <sip:1@x;user=phone>;tag=t;x="q;r"', "a;b,c>d", "sip:1@x;user=phone", "t"),
        (b'"M\xfcller" <sip:+4930123@gw.test>;tag=t', "Müller", "sip:+4930123@gw.test", "t"),
        (b'"\xc3\x9cber" <sip:1@x>;tag=t', "Über", "sip:1@x", "t"),
        (b'"unterminated <sip:+1555@x>;tag=t', "unterminated", "sip:+1555@x", "t"),
        (b'"no bracket" sip:+1555@x;tag=t', "no bracket", "sip:+1555@x", "t"),
        (b"<sip:+1555@x;tag=t", "", "sip:+1555@x;tag=t", ""),
        (b"<tel:+12025550143>;tag=9", "", "tel:+12025550143", "9"),
        (b'"" <sip:anonymous@anonymous.invalid>;tag=9', "", "sip:anonymous@anonymous.invalid", "9"),
        (b"", "", "", ""),
        (b'"', "", "", ""),
        (b"<>", "", "", ""),
    ],
)
def test_from_values(value: bytes, display: str, uri: str, tag: str) -> None:
    parsed = parse_name_addr(value)
    assert (parsed.display_name, parsed.uri, parsed.tag) == (display, uri, tag)


def test_a_display_name_of_thousands_of_characters_keeps_the_number() -> None:
    name = "A" * 5000
    parsed = parse_name_addr(f'"{name}" <sip:+12025550143@gw.test>;tag=x'.encode())
    assert parsed.display_name == name
    assert uri_user(parsed.uri) == "+12025550143"
    assert parsed.tag == "x"


def test_quoted_parameters_and_case() -> None:
    parsed = parse_name_addr(b'<sip:1@x>;TAG=AbC;note="a;b"')
    assert parsed == NameAddr("", "sip:1@x", (("tag", "AbC"), ("note", "a;b")))


def test_a_str_from_pjsua2_is_parsed_from_its_bytes() -> None:
    parsed = parse_name_addr(_swig(b'"M\xfcller" <sip:1@x>;tag=t'))
    assert parsed.display_name == "Müller"


@pytest.mark.parametrize(
    ("uri", "user"),
    [
        ("sip:+12025550143@ext.test", "+12025550143"),
        ("sip:%2B12025550143@ext.test;user=phone", "+12025550143"),
        ("sips:alice@sip.test:5061;transport=tls", "alice"),
        ("sip:alice:secret@sip.test", "alice"),
        ("sip:alice;isub=1@sip.test", "alice"),
        ("tel:+12025550143;phone-context=x", "+12025550143"),
        ("sip:127.0.0.1:5060", ""),
        ("SIP:Bob@x", "Bob"),
        ("mailto:a@b", ""),
        ("garbage", ""),
        ("sip:M%FCller@x", "Müller"),
    ],
)
def test_uri_user(uri: str, user: str) -> None:
    assert uri_user(uri) == user


def _invite(from_line: bytes, sep: bytes = b"\r\n") -> bytes:
    lines = [
        b"INVITE sip:alice@127.0.0.1:5080;ob SIP/2.0",
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1",
        from_line,
        b"To: <sip:alice@sip.test>",
        b"Call-ID: abc@host",
        b"CSeq: 1 INVITE",
        b"Content-Length: 3",
        b"",
        b"v=0",
    ]
    return sep.join(lines)


def test_message_headers_compact_forms_and_folding() -> None:
    message = parse_message(_invite(b'f: "Pat"\r\n  <sip:+1555@x>;tag=t1'))
    assert message.method == "INVITE"
    assert message.request_uri == "sip:alice@127.0.0.1:5080;ob"
    assert caller(message) == caller(parse_message(_invite(b'FROM :  "Pat" <sip:+1555@x>;tag=t1', b"\n")))
    who = caller(message)
    assert (who.call_id, who.uri, who.display_name, who.tag) == ("abc@host", "sip:+1555@x", "Pat", "t1")


def test_the_first_from_header_counts_and_the_body_is_not_read() -> None:
    raw = _invite(b"From: <sip:first@x>;tag=1") + b"\r\nFrom: <sip:body@x>"
    raw = raw.replace(b"To:", b"From: <sip:second@x>;tag=2\r\nTo:")
    assert caller(parse_message(raw)).uri == "sip:first@x"


def test_a_message_without_from_gives_empty_fields() -> None:
    message = parse_message(b"INVITE sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n")
    who = caller(message)
    assert (who.call_id, who.uri, who.display_name, who.tag) == ("x", "", "", "")
    assert parse_message(b"").method == ""
    assert parse_message(b"SIP/2.0 200 OK\r\n\r\n").method == ""


@pytest.mark.parametrize(
    ("source", "parsed"),
    [
        ("127.0.0.1:5060", ("127.0.0.1", 5060)),
        ("[::1]:5061", ("::1", 5061)),
        ("[::ffff:127.0.0.1]:5060", ("127.0.0.1", 5060)),
        ("[fe80::1%eth0]:5060", ("fe80::1", 5060)),
        ("host.example:5060", None),
        ("127.0.0.1", None),
        ("", None),
    ],
)
def test_split_source(source: str, parsed: tuple[str, int] | None) -> None:
    assert split_source(source) == parsed


def test_normal_ip() -> None:
    assert normal_ip("0:0:0:0:0:0:0:1") == "::1"
    assert normal_ip("sip.test") == ""


def test_pjsips_message_log_line() -> None:
    line = _swig(
        b"RX 812 bytes Request msg INVITE/cseq=1 (rdata0x7f00) from UDP 127.0.0.1:5060:\n"
        + _invite(b'From: "M\xfcller" <sip:+4930123@gw.test>;tag=t')
        + b"\n--end msg--"
    )
    logged = parse_rx_log(line)
    assert logged is not None
    assert (logged.method, logged.transport, logged.source) == ("INVITE", "UDP", "127.0.0.1:5060")
    message = parse_message(logged.raw)
    assert message.request_uri == "sip:alice@127.0.0.1:5080;ob"
    assert caller(message).display_name == "Müller"
    assert (
        parse_rx_log("TX 400 bytes Response msg 486/INVITE/cseq=1 (tdta0x1) to UDP 1.2.3.4:5060:\nSIP/2.0 486") is None
    )
    assert parse_rx_log("Unable to accept incoming call") is None
