"""PBX call records: rows built here from each PBX's documented format (and,
for Kamailio, lines a real Kamailio 5.6.3 wrote), read into PbxCall."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from softclock.reports.cdr import (
    CdrError,
    CdrFormat,
    Direction,
    PbxDisposition,
    check_file,
    parse,
    parse_asterisk,
    parse_file,
    parse_freeswitch,
    parse_kamailio_acc,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- Asterisk

# cdr_csv.c: strings quoted (" doubled), numbers bare, an unset time an empty field.
# 18 columns: loguniqueid=yes and loguserfield=yes, as in the sample cdr.conf.
AST_OUT = (
    '"","201","2025550143","from-internal","""Ann Smith, Esq."" <201>","PJSIP/201-00000001",'
    '"PJSIP/trunk-00000002","Dial","PJSIP/2025550143@trunk,30","2026-01-15 09:00:00",'
    '"2026-01-15 09:00:07","2026-01-15 09:05:07",307,300,"ANSWERED","DOCUMENTATION",'
    '"1768485600.11","callid=3c2a9f@10.0.0.5"\n'
)
AST_IN = (
    '"","(202) 555-0100","5551000","from-trunk","""Acme, Inc."" <2025550100>","PJSIP/trunk-00000003",'
    '"PJSIP/202-00000004","Dial","PJSIP/202,30","2026-01-15 10:00:00",,"2026-01-15 10:00:21",21,0,'
    '"NO ANSWER","DOCUMENTATION","1768489200.12",""\n'
)
AST_INTERNAL = (
    '"","201","202","from-internal","""Ann"" <201>","PJSIP/201-00000005","PJSIP/202-00000006","Dial",'
    '"PJSIP/202,30","2026-01-15 11:00:00",,"2026-01-15 11:00:04",4,0,"BUSY","DOCUMENTATION",'
    '"1768492800.13","note;callid=abc-1@pbx;x=y"\n'
)


def test_asterisk_master_csv_with_commas_and_quotes_inside_clid() -> None:
    calls = list(parse_asterisk([AST_OUT, AST_IN, AST_INTERNAL], path="Master.csv", timezone="America/New_York"))
    out, inbound, internal = calls

    assert out.source_format is CdrFormat.ASTERISK and out.line == 1
    # 09:00 EST is 14:00 UTC
    assert (out.start_utc, out.answer_utc, out.end_utc) == (
        utc(2026, 1, 15, 14),
        utc(2026, 1, 15, 14, 0, 7),
        utc(2026, 1, 15, 14, 5, 7),
    )
    assert out.start_utc.tzinfo is UTC
    assert (out.duration_s, out.billsec) == (307, 300)
    assert out.caller_name == "Ann Smith, Esq."
    assert (out.caller, out.callee, out.caller_e164, out.callee_e164) == ("201", "2025550143", None, "+12025550143")
    assert (out.direction, out.extension, out.remote_e164) == (Direction.OUTBOUND, "201", "+12025550143")
    assert out.disposition is PbxDisposition.ANSWERED and out.answered
    assert out.sip_call_id == "3c2a9f@10.0.0.5"
    assert out.pbx_unique_id == "1768485600.11"

    # The extension comes from the destination channel; the DID is no extension
    assert (inbound.direction, inbound.extension) == (Direction.INBOUND, "202")
    assert inbound.caller_e164 == "+12025550100" and inbound.remote_e164 == "+12025550100"
    assert inbound.callee_e164 is None  # a 7-digit DID has no E.164 form without its area code
    assert inbound.answer_utc is None and inbound.billsec == 0
    assert inbound.disposition is PbxDisposition.NO_ANSWER and inbound.caller_name == "Acme, Inc."
    assert inbound.sip_call_id is None

    assert (internal.direction, internal.extension, internal.peer_extension) == (Direction.INTERNAL, "201", "202")
    assert internal.remote_e164 is None
    assert internal.disposition is PbxDisposition.BUSY
    assert internal.sip_call_id == "abc-1@pbx"

    assert len({c.dedup_key for c in calls}) == 3
    again = list(parse_asterisk([AST_OUT, AST_IN, AST_INTERNAL], path="copy.csv", timezone="Europe/Paris"))
    assert [c.dedup_key for c in again] == [c.dedup_key for c in calls]  # the same records, whatever the options


def test_asterisk_region_and_gmt() -> None:
    row = (
        '"","02079460018","2001","from-trunk","""Client"" <02079460018>","SIP/trunk-0001","SIP/2001-0002",'
        '"Dial","SIP/2001","2026-07-01 08:00:00","2026-07-01 08:00:03","2026-07-01 08:10:03",603,600,'
        '"ANSWERED","BILLING"\n'
    )
    (call,) = parse_asterisk([row], gmt=True, region="GB")
    assert call.start_utc == utc(2026, 7, 1, 8)
    assert call.caller_e164 == "+442079460018"
    assert (call.direction, call.extension) == (Direction.INBOUND, "2001")
    assert call.pbx_unique_id is None and call.sip_call_id is None  # 16 columns: neither logged


def test_asterisk_needs_a_timezone_for_local_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        list(parse_asterisk([AST_OUT]))
    with pytest.raises(ValueError, match="unknown timezone"):
        list(parse_asterisk([AST_OUT], timezone="Mars/Olympus_Mons"))


def _ast_row(start: str, answer: str, end: str, duration: int, billsec: int) -> str:
    answer_field = f'"{answer}"' if answer else ""
    return (
        f'"","201","2025550143","from-internal","""A"" <201>","PJSIP/201-1","PJSIP/trunk-2","Dial","x",'
        f'"{start}",{answer_field},"{end}",{duration},{billsec},"ANSWERED","DOCUMENTATION"\n'
    )


def test_asterisk_local_times_across_both_dst_changes() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT: a call from 01:59:50 to 03:00:40 lasted 50 s.
    spring = _ast_row("2026-03-08 01:59:50", "2026-03-08 01:59:55", "2026-03-08 03:00:40", 50, 45)
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:50 (first reading, EDT) to 01:10 (second reading, EST) is 20 min.
    autumn = _ast_row("2026-11-01 01:50:00", "2026-11-01 01:50:30", "2026-11-01 01:10:00", 1200, 1170)
    first, second = parse_asterisk([spring, autumn], timezone="America/New_York")
    assert (first.start_utc, first.answer_utc, first.end_utc) == (
        utc(2026, 3, 8, 6, 59, 50),
        utc(2026, 3, 8, 6, 59, 55),
        utc(2026, 3, 8, 7, 0, 40),
    )
    assert (second.start_utc, second.answer_utc, second.end_utc) == (
        utc(2026, 11, 1, 5, 50),
        utc(2026, 11, 1, 5, 50, 30),
        utc(2026, 11, 1, 6, 10),
    )


def test_asterisk_optional_columns_by_count_and_by_option() -> None:
    base = _ast_row("2026-01-15 09:00:00", "", "2026-01-15 09:00:10", 10, 0).rstrip("\n")
    (plain,) = parse_asterisk([base + "\n"], gmt=True)
    assert plain.pbx_unique_id is None
    (full,) = parse_asterisk([base + ',"u-1","callid=c-1","peer","linked-1",3\n'], gmt=True)
    assert (full.pbx_unique_id, full.sip_call_id) == ("u-1", "c-1")
    (newcols,) = parse_asterisk([base + ',"peer","linked-1",3\n'], gmt=True)
    assert newcols.pbx_unique_id is None

    one_more = base + ',"u-1"\n'
    with pytest.raises(CdrError, match=r"x\.csv, line 1: 17 columns: one of uniqueid and userfield"):
        list(parse_asterisk([one_more], path="x.csv", gmt=True))
    (unique,) = parse_asterisk([one_more], gmt=True, loguniqueid=True)
    assert unique.pbx_unique_id == "u-1"
    (user,) = parse_asterisk([base + ',"callid=z@h"\n'], gmt=True, loguserfield=True)
    assert (user.pbx_unique_id, user.sip_call_id) == (None, "z@h")
    with pytest.raises(CdrError, match="15 columns"):
        list(parse_asterisk(['"a","b","c","d","e","f","g","h","i","j","k","l",1,2,"ANSWERED"\n'], gmt=True))


def test_asterisk_header_and_blank_lines_are_passed_over() -> None:
    header = (
        ",".join(
            f'"{name}"'
            for name in (
                "accountcode",
                "src",
                "dst",
                "dcontext",
                "clid",
                "channel",
                "dstchannel",
                "lastapp",
                "lastdata",
                "start",
                "answer",
                "end",
                "duration",
                "billsec",
                "disposition",
                "amaflags",
                "uniqueid",
                "userfield",
            )
        )
        + "\n"
    )
    calls = list(parse_asterisk([header, "\n", AST_OUT, "\n", AST_IN], timezone="UTC"))
    assert [c.line for c in calls] == [3, 5]


def test_a_record_spanning_lines_is_named_by_its_first_line() -> None:
    multi = AST_IN.replace("PJSIP/202,30", "PJSIP/202,30\nsecond line")
    bad = AST_OUT.replace(",307,300,", ",307,lots,")
    with pytest.raises(CdrError) as caught:
        list(
            parse_asterisk([AST_OUT, *multi.splitlines(True), bad], path="/var/log/asterisk/Master.csv", timezone="UTC")
        )
    assert str(caught.value) == "/var/log/asterisk/Master.csv, line 4: billsec 'lots' is not a whole number of seconds"
    assert (caught.value.line, caught.value.path) == (4, "/var/log/asterisk/Master.csv")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ((",307,300,", ",-1,300,"), "duration -1 is negative"),
        (('"ANSWERED"', '"MAYBE"'), "unknown disposition 'MAYBE'"),
        (('"2026-01-15 09:00:00"', '"15/01/2026 09:00"'), "'15/01/2026 09:00' is not a time of the form"),
        (('"2026-01-15 09:00:00"', '"2026-02-30 09:00:00"'), "'2026-02-30 09:00:00' is not a time"),
        (('"2026-01-15 09:00:00"', ""), "the start time is empty"),
        (('"2026-01-15 09:05:07"', '"2026-01-15 08:05:07"'), "ends (2026-01-15 08:05:07) before it starts"),
        ((',"callid=3c2a9f@10.0.0.5"', ""), "17 columns where the file's records have 18"),
    ],
)
def test_a_bad_asterisk_row_names_file_line_and_problem(change: tuple[str, str], problem: str) -> None:
    bad = AST_OUT.replace(*change)
    assert bad != AST_OUT
    with pytest.raises(CdrError) as caught:
        list(parse_asterisk([AST_OUT, AST_IN, bad], path="Master.csv", timezone="UTC"))
    assert str(caught.value).startswith("Master.csv, line 3: ")
    assert problem in str(caught.value)


def test_a_file_with_a_bad_row_gives_the_importer_nothing(tmp_path: Path) -> None:
    """An importer that reads the whole file first (as it must) has nothing to import."""
    master = tmp_path / "Master.csv"
    master.write_text(AST_OUT + AST_IN + "not,a,cdr\n" + AST_INTERNAL, encoding="utf-8")
    imported: list[object] = []
    with pytest.raises(CdrError, match=r"Master\.csv, line 3: 3 columns"):
        imported.extend(list(parse_file(master, "asterisk", timezone="UTC")))
    assert imported == []
    with pytest.raises(CdrError, match=r"Master\.csv, line 3: 3 columns"):
        check_file(master, "asterisk", timezone="UTC")  # a first pass that keeps nothing
    master.write_text(AST_OUT + AST_IN + AST_INTERNAL, encoding="utf-8")
    assert check_file(master, "asterisk", timezone="UTC") == 3


def test_parsing_streams() -> None:
    """A generator of endless lines: the first calls come out without the rest being read."""

    def endless() -> Iterator[str]:
        for i in itertools.count():
            yield AST_OUT.replace("1768485600.11", f"u-{i}")

    calls = list(itertools.islice(parse(endless(), "asterisk", timezone="UTC"), 3))
    assert [c.pbx_unique_id for c in calls] == ["u-0", "u-1", "u-2"]
    assert [c.line for c in calls] == [1, 2, 3]


def test_parse_file_reads_utf8_and_keeps_going_past_undecodable_bytes(tmp_path: Path) -> None:
    master = tmp_path / "Master.csv"
    master.write_bytes(
        AST_OUT.replace("Ann Smith", "Zoë Smith").encode() + AST_IN.replace("Acme", "Acm\xe9").encode("latin-1")
    )
    first, second = parse_file(master, CdrFormat.ASTERISK, timezone="UTC")
    assert first.caller_name == "Zoë Smith, Esq."
    assert second.caller_name == "Acm\ufffd, Inc."


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown PBX record format 'cisco'"):
        parse([], "cisco")


# --------------------------------------------------------------------------- FreeSWITCH

# conf/vanilla/autoload_configs/cdr_csv.conf.xml, template "example" (the default-template)
FS_OUT = (
    '"Ann Smith","1001","2025550143","default","2026-01-15 09:00:00","2026-01-15 09:00:07",'
    '"2026-01-15 09:05:07","307","300","NORMAL_CLEARING","0b5a3c7e-1111-4a4a-9e9e-000000000001","",'
    '"","PCMU","PCMU"\n'
)
FS_IN = (
    '"Acme, Inc.","+12025550100","+15125551000","public","2026-01-15 10:00:00","","2026-01-15 10:00:30",'
    '"30","0","NO_ANSWER","0b5a3c7e-1111-4a4a-9e9e-000000000002","","","PCMU","PCMU"\n'
)


def test_freeswitch_default_template() -> None:
    out, inbound = parse_freeswitch([FS_OUT, FS_IN], path="Master.csv", timezone="Europe/London")
    assert out.source_format is CdrFormat.FREESWITCH
    assert (out.start_utc, out.answer_utc, out.end_utc) == (
        utc(2026, 1, 15, 9),
        utc(2026, 1, 15, 9, 0, 7),
        utc(2026, 1, 15, 9, 5, 7),
    )
    assert (out.direction, out.extension, out.callee_e164) == (Direction.OUTBOUND, "1001", "+12025550143")
    assert out.disposition is PbxDisposition.ANSWERED and out.caller_name == "Ann Smith"
    assert out.pbx_unique_id == "0b5a3c7e-1111-4a4a-9e9e-000000000001"
    assert out.dedup_key == "freeswitch:0b5a3c7e-1111-4a4a-9e9e-000000000001"
    assert out.sip_call_id is None

    # the public context: an inbound call on the trunk's leg, whose destination is the DID
    assert (inbound.direction, inbound.extension) == (Direction.INBOUND, None)
    assert inbound.remote_e164 == "+12025550100" and inbound.caller_name == "Acme, Inc."
    assert inbound.disposition is PbxDisposition.NO_ANSWER and inbound.answer_utc is None


def test_freeswitch_builtin_template_and_an_appended_call_id() -> None:
    # mod_cdr_csv.c's compiled-in template: 13 fields, a space before "${accountcode}"
    builtin = FS_OUT.replace(',"","PCMU","PCMU"\n', ', "acct-7"\n')
    (call,) = parse_freeswitch([builtin], timezone="UTC")
    assert call.disposition is PbxDisposition.ANSWERED and call.sip_call_id is None
    with_id = FS_OUT.replace("\n", ',"a84b4c76e66710@pc33.example.com"\n')
    (call,) = parse_freeswitch([with_id], timezone="UTC")
    assert call.sip_call_id == "a84b4c76e66710@pc33.example.com"
    (call,) = parse_freeswitch([builtin.replace("\n", ',"cid-9"\n')], timezone="UTC")
    assert call.sip_call_id == "cid-9"


@pytest.mark.parametrize(
    ("cause", "disposition"),
    [
        ("USER_BUSY", PbxDisposition.BUSY),
        ("CALL_REJECTED", PbxDisposition.BUSY),
        ("NO_ANSWER", PbxDisposition.NO_ANSWER),
        ("ORIGINATOR_CANCEL", PbxDisposition.NO_ANSWER),
        ("NO_USER_RESPONSE", PbxDisposition.NO_ANSWER),
        ("UNALLOCATED_NUMBER", PbxDisposition.FAILED),
        ("NORMAL_TEMPORARY_FAILURE", PbxDisposition.FAILED),
    ],
)
def test_freeswitch_unanswered_dispositions(cause: str, disposition: PbxDisposition) -> None:
    (call,) = parse_freeswitch([FS_IN.replace("NO_ANSWER", cause)], timezone="UTC")
    assert call.disposition is disposition


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (FS_OUT.replace(',"PCMU","PCMU"\n', "\n"), "line 2: 13 columns where the file's records have 15"),
        (FS_OUT.replace('"0b5a3c7e-1111-4a4a-9e9e-000000000001"', '""'), "line 2: uuid is empty"),
        (FS_OUT.replace("NORMAL_CLEARING", "it hung up"), "line 2: hangup_cause 'it hung up'"),
        (FS_OUT.replace('"307"', '"3 min"'), "line 2: duration '3 min' is not a whole number"),
    ],
)
def test_a_bad_freeswitch_row(row: str, problem: str) -> None:
    with pytest.raises(CdrError, match="^Master.csv, " + problem.replace("(", r"\(").replace(")", r"\)")):
        list(parse_freeswitch([FS_IN, row], path="Master.csv", timezone="UTC"))


def test_freeswitch_column_count_is_checked_on_the_first_row() -> None:
    with pytest.raises(CdrError, match="line 1: 3 columns: the default template writes 15"):
        list(parse_freeswitch(['"a","b","c"\n'], timezone="UTC"))


# --------------------------------------------------------------------------- Kamailio acc

# Written by Kamailio 5.6.3 (acc log_flag/log_missed_flag/failed_transaction_flag and the stock log_extra,
# run with -E, the ACC lines and one other line of that log): a call answered and ended by BYE, and a call
# answered 486 Busy Here.
KAMAILIO_REAL = [
    (
        " 1(12402) NOTICE: acc [acc.c:287]: acc_log_request(): ACC: transaction answered: timestamp=1796281941;"
        "method=INVITE;from_tag=12408SIPpTag001;to_tag=12042SIPpTag012;call_id=1-12408@127.0.0.1;code=200;reason=OK;"
        "src_user=sipp;src_domain=127.0.0.1;src_ip=127.0.0.1;dst_ouser=2025550143;dst_user=2025550143;"
        "dst_domain=127.0.0.1\n"
    ),
    " 0(12400) INFO: <core> [core/tcp_main.c:5073]: init_tcp(): using epoll_lt as the io watch method (auto detected)\n",
    (
        " 1(12402) NOTICE: acc [acc.c:287]: acc_log_request(): ACC: transaction answered: timestamp=1796281943;"
        "method=BYE;from_tag=12408SIPpTag001;to_tag=12042SIPpTag012;call_id=1-12408@127.0.0.1;code=200;reason=OK;"
        "src_user=sipp;src_domain=127.0.0.1;src_ip=127.0.0.1;dst_ouser=2025550143;dst_user=2025550143;"
        "dst_domain=127.0.0.1\n"
    ),
    (
        " 1(12043) NOTICE: acc [acc.c:287]: acc_log_request(): ACC: call missed: timestamp=1796281933;method=INVITE;"
        "from_tag=12053SIPpTag001;to_tag=12049SIPpTag011;call_id=1-12053@127.0.0.1;code=486;reason=Busy Here;"
        "src_user=sipp;src_domain=127.0.0.1;src_ip=127.0.0.1;dst_ouser=busy;dst_user=busy;dst_domain=127.0.0.1\n"
    ),
]


def acc(
    kind: str,
    ts: int,
    method: str,
    call_id: str,
    code: int,
    reason: str = "OK",
    *,
    caller: str = "201",
    callee: str = "2025550143",
    from_tag: str = "ft",
) -> str:
    return (
        f"Jan 15 09:00:00 pbx /usr/sbin/kamailio[812]: NOTICE: acc [acc.c:287]: acc_log_request(): ACC: {kind}: "
        f"timestamp={ts};method={method};from_tag={from_tag};to_tag=tt;call_id={call_id};code={code};"
        f"reason={reason};src_user={caller};src_domain=pbx;src_ip=10.0.0.9;dst_ouser={callee};dst_user={callee};"
        f"dst_domain=pbx\n"
    )


def test_kamailio_acc_records_of_a_real_kamailio() -> None:
    answered, busy = parse_kamailio_acc(KAMAILIO_REAL, path="acc.log")
    assert answered.source_format is CdrFormat.KAMAILIO_ACC and answered.line == 1
    assert answered.sip_call_id == "1-12408@127.0.0.1"
    assert (answered.start_utc, answered.answer_utc, answered.end_utc) == (
        datetime.fromtimestamp(1796281941, UTC),
        datetime.fromtimestamp(1796281941, UTC),
        datetime.fromtimestamp(1796281943, UTC),
    )
    assert (answered.duration_s, answered.billsec) == (2, 2)
    assert (answered.caller, answered.callee, answered.callee_e164) == ("sipp", "2025550143", "+12025550143")
    assert answered.disposition is PbxDisposition.ANSWERED
    assert answered.pbx_unique_id is None
    assert busy.disposition is PbxDisposition.BUSY and busy.line == 4 and busy.answer_utc is None
    assert busy.sip_call_id == "1-12053@127.0.0.1"
    assert answered.dedup_key != busy.dedup_key
    assert [c.dedup_key for c in parse_kamailio_acc(KAMAILIO_REAL)] == [answered.dedup_key, busy.dedup_key]


def test_kamailio_numbers_and_direction() -> None:
    lines = [
        acc("transaction answered", 1768467600, "INVITE", "c1", 200),
        acc("transaction answered", 1768467900, "BYE", "c1", 200, caller="2025550143", callee="201"),
        acc("transaction answered", 1768468000, "INVITE", "c2", 200, caller="+442079460018", callee="202"),
        acc("transaction answered", 1768468060, "BYE", "c2", 200),
    ]
    out, inbound = parse_kamailio_acc(lines)
    assert (out.direction, out.extension, out.remote_e164) == (Direction.OUTBOUND, "201", "+12025550143")
    assert (out.duration_s, out.billsec) == (300, 300)
    assert (inbound.direction, inbound.extension, inbound.remote_e164) == (Direction.INBOUND, "202", "+442079460018")


def test_kamailio_serial_fork_a_failed_branch_then_an_answer_is_one_answered_call() -> None:
    lines = [
        acc("call missed", 1768467600, "INVITE", "fork", 408, "Request Timeout"),
        acc("transaction answered", 1768467620, "INVITE", "fork", 200),
        acc("transaction answered", 1768467680, "INVITE", "fork", 200),  # a re-INVITE (hold): not a new call
        acc("transaction answered", 1768467740, "BYE", "fork", 200),
    ]
    (call,) = parse_kamailio_acc(lines)
    assert call.disposition is PbxDisposition.ANSWERED
    assert (call.start_utc, call.answer_utc, call.end_utc) == (
        datetime.fromtimestamp(1768467600, UTC),
        datetime.fromtimestamp(1768467620, UTC),
        datetime.fromtimestamp(1768467740, UTC),
    )
    assert (call.duration_s, call.billsec) == (140, 120)


def test_kamailio_a_missed_call_waits_out_the_fork_window_then_comes_out() -> None:
    lines = [
        acc("call missed", 1768467600, "INVITE", "m1", 487, "Request Terminated"),
        acc("transaction answered", 1768467700, "INVITE", "a1", 200),
        acc("transaction answered", 1768467800, "BYE", "a1", 200),
        acc("transaction answered", 1768468000, "INVITE", "a2", 200),  # 400 s after m1
    ]
    calls = parse_kamailio_acc(lines, fork_window_s=300)
    first = next(calls)
    assert (first.sip_call_id, first.disposition) == ("a1", PbxDisposition.ANSWERED)
    second = next(calls)
    assert (second.sip_call_id, second.disposition, second.line) == ("m1", PbxDisposition.NO_ANSWER, 1)
    last = next(calls)  # answered, its BYE not in this file
    assert last.sip_call_id == "a2" and last.end_utc is None and last.duration_s is None and last.billsec is None
    assert list(calls) == []


def test_kamailio_passes_over_other_lines_and_methods_and_orphan_byes() -> None:
    lines = [
        "some other log line\n",
        acc("transaction answered", 1768467600, "BYE", "from-an-earlier-file", 200),
        acc("transaction answered", 1768467601, "MESSAGE", "msg", 200),
        acc("transaction answered", 1768467602, "INVITE", "early", 183, "Session Progress"),
        acc("call missed", 1768467603, "INVITE", "early", 480, "Temporarily Unavailable"),
    ]
    (call,) = parse_kamailio_acc(lines)
    assert call.sip_call_id == "early" and call.disposition is PbxDisposition.NO_ANSWER and call.line == 5


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("ACC: transaction answered: method=INVITE;call_id=x;code=200\n", "without 'KIND: timestamp=...'"),
        ("ACC: transaction answered: timestamp=soon;method=INVITE;call_id=x;code=200\n", "timestamp 'soon'"),
        ("ACC: transaction answered: timestamp=1;method=INVITE;call_id=;code=200\n", "no call_id"),
        ("ACC: transaction answered: timestamp=1;method=INVITE;call_id=x;code=OK\n", "code 'OK'"),
        ("ACC: transaction answered: timestamp=1;method=INVITE;call_id=x;code=99\n", "code 99 is not a SIP"),
        ("ACC: transaction answered: timestamp=1;call_id=x;code=200\n", "no method"),
    ],
)
def test_a_bad_kamailio_record_names_file_line_and_problem(line: str, problem: str) -> None:
    with pytest.raises(CdrError) as caught:
        list(parse_kamailio_acc([KAMAILIO_REAL[0], "noise\n", line], path="/var/log/kamailio-acc.log"))
    assert str(caught.value).startswith("/var/log/kamailio-acc.log, line 3: ")
    assert problem in str(caught.value)


def test_kamailio_through_parse_file(tmp_path: Path) -> None:
    log = tmp_path / "acc.log"
    log.write_text("".join(KAMAILIO_REAL), encoding="utf-8")
    assert len(list(parse_file(log, "kamailio-acc"))) == 2
