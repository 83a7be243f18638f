"""A PBX's own call records -> :class:`PbxCall`, one frozen value per call.

Three formats, each read as the PBX writes it, streaming (a generator over the
lines; nothing is built for the whole file):

**Asterisk** ``cdr_csv`` (``Master.csv``): the column order of
``cdr/cdr_csv.c``::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp,
    lastdata, start, answer, end, duration, billsec, disposition, amaflags
    [, uniqueid]      (cdr.conf [csv] loguniqueid=yes)
    [, userfield]     (loguserfield=yes)
    [, peeraccount, linkedid, sequence]   (newcdrcolumns=yes)

Strings are double-quoted (a ``"`` inside doubled), numbers are not, an unset
time is an empty field. Times are ``YYYY-MM-DD HH:MM:SS`` in the PBX's local
time, or UTC with ``usegmtime=yes`` (pass ``gmt=True``); local times need the
PBX's ``timezone`` (a zoneinfo name). In the hour a clock goes back, the fold of
each time is chosen so that end - start agrees with ``duration``. The optional
columns are found from the column count where it is unambiguous (16: none,
18: uniqueid and userfield, 19: newcdrcolumns only, 21: all); 17 and 20 need
``loguniqueid``/``loguserfield`` said. Dispositions: ANSWERED, NO ANSWER, BUSY,
FAILED, CONGESTION (-> failed), CANCEL (-> no-answer), UNKNOWN (-> failed).

The SIP Call-ID is not in a standard Asterisk CDR. One dialplan line writes it
into the userfield (``loguserfield=yes``), where this parser looks for a
``callid=`` item (items may be separated by ``;``)::

    same => n,Set(CDR(userfield)=callid=${CHANNEL(pjsip,call-id)})

**FreeSWITCH** ``mod_cdr_csv`` with the default template of
``conf/vanilla/autoload_configs/cdr_csv.conf.xml`` (``default-template`` =
``example``)::

    caller_id_name, caller_id_number, destination_number, context,
    start_stamp, answer_stamp, end_stamp, duration, billsec, hangup_cause,
    uuid, bleg_uuid, accountcode, read_codec, write_codec

and the module's built-in ``default`` template (the first 13 of these; its
``, "${accountcode}"`` has a space after the comma, which is skipped). Append
``,"${sip_call_id}"`` to either template to log the SIP Call-ID: a 14th or 16th
column is read as the Call-ID. Times are the server's local time. FreeSWITCH
does not escape ``"`` inside values; such a row is read as leniently as Python's
``csv`` reads it. With ``legs`` = ``a`` (the default) an inbound call is logged
as the trunk's leg only, whose destination is the dialled number; ``legs`` =
``ab`` logs the leg to the extension too (each leg is a record of its own,
with its own uuid and so its own dedup key). Dispositions from ``hangup_cause``
when the call was not answered: USER_BUSY and CALL_REJECTED -> busy;
NO_ANSWER, NO_USER_RESPONSE, ORIGINATOR_CANCEL, NORMAL_CLEARING -> no-answer;
any other cause -> failed.

**Kamailio** ``acc`` transaction records written to the log (the ``log_flag``
/ ``log_missed_flag`` / ``failed_transaction_flag`` of the stock
``kamailio.cfg``), one per line, found by their ``ACC: `` mark wherever the
syslog or ``-E`` prefix puts it::

    ACC: transaction answered: timestamp=1700000000;method=INVITE;from_tag=a1;
        to_tag=b2;call_id=c3@host;code=200;reason=OK;src_user=201;...
    ACC: call missed: timestamp=...;method=INVITE;...;code=486;reason=Busy Here;...
    ACC: transaction answered: timestamp=...;method=BYE;...;call_id=c3@host;code=200;...

(``acc.c``: ``timestamp`` then method, from_tag, to_tag, call_id, code, reason,
then the ``log_extra`` attributes in their configured order.) The records of
one call are paired by Call-ID: the INVITE's 2xx is the answer, its first BYE
the end, a failed INVITE (``call missed`` or a failed transaction) a call that
was not answered. The stock ``log_extra`` gives the numbers: ``src_user``
(caller) and ``dst_ouser`` (the To user: what was dialled; else ``dst_user``,
the request URI's user). To configure Kamailio to write them::

    loadmodule "acc.so"
    modparam("acc", "log_flag", 1)
    modparam("acc", "log_missed_flag", 2)
    modparam("acc", "failed_transaction_flag", 3)
    modparam("acc", "log_extra", "src_user=$fU;src_domain=$fd;src_ip=$si;dst_ouser=$tU;dst_user=$rU;dst_domain=$rd")
    # request_route: if (is_method("INVITE") && !has_totag()) { setflag(1); setflag(2); }
    # in-dialog:     if (is_method("BYE")) { setflag(1); setflag(3); }

with ``log_facility`` sending them to a file of their own (or ``-E`` to stderr).
Limits of this form, which the acc records themselves impose: the ring time is
not recorded (start = the answer, or the failure, time); times are whole
seconds; an answered call whose BYE is not in the file (a log rotated mid-call)
comes out with ``end_utc`` = ``duration_s`` = ``billsec`` = ``None``, and a
BYE whose INVITE is not in the file is skipped. A failed INVITE is held back
``fork_window_s`` (default 300 s of log time) in case a later branch answers
(serial forking), so calls are not always yielded in file order. The dialog
CDRs (``cdr_enable``: ``start_time``, ``end_time``, ``duration``) are not read:
they carry neither the Call-ID nor the numbers unless ``cdr_extra`` is set, and
the stock configuration does not write them.

Every format: numbers are kept as written (``caller``, ``callee``) and in E.164
where ``phonenumbers`` can make them one (``caller_e164``, ``callee_e164``;
``region`` for numbers written without a country code). A number matching
``extension_pattern`` (default: 2 to 6 digits) is an internal extension and is
never turned into E.164; Asterisk channel names (``PJSIP/201-0000002a``) name
extensions too. From them: ``direction`` (outbound when the caller is an
extension, inbound when only the callee is, internal when both; FreeSWITCH's
``public`` context is inbound) and ``extension`` (the internal party).

``dedup_key`` is stable across imports of the same records: Asterisk, a hash of
the whole row (uniqueid alone repeats across the rows of one channel);
FreeSWITCH, the leg's uuid; Kamailio, a hash of Call-ID and the caller's From
tag. Importing a file twice, or a file and its rotated successor that repeats
rows, adds nothing when the store keys on it.

A bad row raises :class:`CdrError` naming the file, the line and what is wrong.
As the parsers are generators, the error comes when that row is reached: an
importer reads the whole file before it writes (or writes in one transaction it
rolls back), so that nothing of a file with a bad row is imported.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from softclock.errors import InputError

DEFAULT_EXTENSION_PATTERN = r"\d{2,6}"
KAMAILIO_FORK_WINDOW_S = 300


class CdrFormat(enum.StrEnum):
    ASTERISK = "asterisk"
    FREESWITCH = "freeswitch"
    KAMAILIO_ACC = "kamailio-acc"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class PbxDisposition(enum.StrEnum):
    """How the PBX says the call ended, in four words whatever the PBX."""

    ANSWERED = "answered"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"


class CdrError(InputError):
    """A record that cannot be read: ``str()`` names the file, the line and the problem."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}, line {line}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PbxCall:
    """One call as the PBX recorded it. Times are aware UTC datetimes."""

    source_format: CdrFormat
    line: int  # the first line of the record (of the call's first record, Kamailio)
    start_utc: datetime
    answer_utc: datetime | None  # None: never answered
    end_utc: datetime | None  # None only for a Kamailio call whose BYE is not in the file
    duration_s: int | None  # start -> end
    billsec: int | None  # answer -> end (0 if not answered)
    caller: str  # as the PBX wrote it
    callee: str
    caller_e164: str | None  # None: an extension, anonymous, or not a phone number
    callee_e164: str | None
    caller_name: str
    extension: str | None  # the internal party (the caller's, for an internal call)
    peer_extension: str | None  # an internal call's other extension
    direction: Direction | None  # None: neither party is recognisably internal
    disposition: PbxDisposition
    sip_call_id: str | None
    pbx_unique_id: str | None  # Asterisk uniqueid, FreeSWITCH uuid
    dedup_key: str

    @property
    def answered(self) -> bool:
        return self.disposition is PbxDisposition.ANSWERED

    @property
    def remote_e164(self) -> str | None:
        """The outside party's number in E.164 (the callee of an outbound call, else the caller)."""
        if self.direction is Direction.OUTBOUND:
            return self.callee_e164
        if self.direction is Direction.INBOUND:
            return self.caller_e164
        return None


# --------------------------------------------------------------------------- numbers


@lru_cache(maxsize=262144)
def _e164(number: str, region: str) -> str | None:
    if not number or not any(c.isdigit() for c in number) or any(c.isalpha() for c in number):
        return None
    try:
        parsed = phonenumbers.parse(number, region or None)
    except phonenumbers.NumberParseException:
        return None
    # Not IS_POSSIBLE_LOCAL_ONLY: a number dialled without its area code has no E.164 form.
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class _Parties:
    """Extensions, E.164 and direction, the same way for every format."""

    def __init__(self, region: str, extension_pattern: str | re.Pattern[str]) -> None:
        self.region = region
        pattern = re.compile(extension_pattern) if isinstance(extension_pattern, str) else extension_pattern
        self.is_extension: Callable[[str], object] = pattern.fullmatch
        self._e164: dict[str, str | None] = {}
        self._channels: dict[str, str | None] = {}

    def extension(self, candidate: str | None) -> str | None:
        """``candidate`` if it is an extension number."""
        return candidate if candidate and self.is_extension(candidate) else None

    def channel_extension(self, channel: str) -> str | None:
        """The extension an Asterisk channel name names (``PJSIP/201-0000002a`` -> ``201``), if any."""
        key = channel.rpartition("-")[0] or channel  # the per-call suffix off: names repeat
        try:
            return self._channels[key]
        except KeyError:
            pass
        value = self.extension(_channel_endpoint(channel))
        if len(self._channels) > 100_000:
            self._channels.clear()
        self._channels[key] = value
        return value

    def e164(self, number: str) -> str | None:
        """``number`` in E.164; None for an extension, an empty or a non-phone number."""
        try:
            return self._e164[number]
        except KeyError:
            pass
        value = None if not number or self.is_extension(number) else _e164(number, self.region)
        if len(self._e164) > 200_000:
            self._e164.clear()
        self._e164[number] = value
        return value

    @staticmethod
    def direction(
        caller_ext: str | None, callee_ext: str | None, inbound_hint: bool = False
    ) -> tuple[Direction | None, str | None, str | None]:
        """(direction, extension, peer_extension)."""
        if caller_ext and callee_ext:
            return Direction.INTERNAL, caller_ext, callee_ext
        if caller_ext:
            return Direction.OUTBOUND, caller_ext, None
        if callee_ext:
            return Direction.INBOUND, callee_ext, None
        if inbound_hint:
            return Direction.INBOUND, None, None
        return None, None, None


def _channel_endpoint(channel: str) -> str | None:
    """``PJSIP/201-0000002a`` -> ``201``; ``Local/201@from-internal-0001;1`` -> ``201``."""
    if not channel:
        return None
    tech, sep, rest = channel.partition("/")
    if not sep or not rest:
        return None
    if tech.lower() == "local":
        return rest.partition("@")[0] or None
    name, dash, _suffix = rest.rpartition("-")
    return name if dash else rest


_CLID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')


def _clid_name(clid: str) -> str:
    """``"Smith, Ann" <2025550143>`` -> ``Smith, Ann``; a bare number has no name."""
    if clid.startswith('"'):
        close = clid.rfind('" <')
        if close > 0 and clid.endswith(">"):
            return clid[1:close].strip()
    match = _CLID.match(clid)
    return match.group("name").strip() if match else ""


# --------------------------------------------------------------------------- time


class _Clock:
    """``YYYY-MM-DD HH:MM:SS`` in one zone -> aware UTC, fast.

    The text is read as if it were UTC (``datetime.fromisoformat``, in C) and
    the zone's offset subtracted; the offset is looked up once per local hour
    (when the hour has one offset from its first second to its last; an hour
    with a change inside it is converted time by time), so a million rows cost
    a few thousand zoneinfo look-ups.
    """

    def __init__(self, zone: tzinfo | None) -> None:
        self.zone = zone
        self._hours: dict[str, tuple[timedelta, ...]] = {}

    def candidates(self, text: str) -> tuple[datetime, ...]:
        """The UTC instants ``text`` may mean: one, or two in the hour a clock goes back."""
        if len(text) != 19 or text[10] != " ":
            raise ValueError(f"{text!r} is not a time of the form YYYY-MM-DD HH:MM:SS")
        try:
            wall = _fromisoformat(text + "+00:00")
        except ValueError:
            raise ValueError(f"{text!r} is not a time of the form YYYY-MM-DD HH:MM:SS") from None
        if self.zone is None:
            return (wall,)
        offsets = self._hours.get(text[:13])
        if offsets is None:
            offsets = self._hour(text[:13], wall)
        if len(offsets) == 1:
            return (wall - offsets[0],)
        if not offsets:  # the offset changes inside this hour
            offsets = self._offsets(wall.replace(tzinfo=None))
        return tuple(wall - offset for offset in offsets)

    def _hour(self, key: str, wall: datetime) -> tuple[timedelta, ...]:
        top = wall.replace(tzinfo=None, minute=0, second=0)
        offsets = self._offsets(top)
        if offsets != self._offsets(top.replace(minute=59, second=59)):
            offsets = ()
        if len(self._hours) > 100_000:
            self._hours.clear()
        self._hours[key] = offsets
        return offsets

    def _offsets(self, naive: datetime) -> tuple[timedelta, ...]:
        first = naive.replace(tzinfo=self.zone, fold=0).utcoffset()
        second = naive.replace(tzinfo=self.zone, fold=1).utcoffset()
        assert first is not None and second is not None
        if first == second:
            return (first,)
        return (first, second)  # the hour a clock goes back: both readings


_fromisoformat = datetime.fromisoformat


def _zone(timezone: tzinfo | str | None, gmt: bool) -> tzinfo | None:
    if gmt:
        return None
    if timezone is None:
        raise ValueError("the records are in the PBX's local time: say its timezone (or that it writes UTC)")
    if isinstance(timezone, str):
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {timezone!r}") from None
    return timezone


def _key(prefix: str, *parts: str) -> str:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
    return f"{prefix}:{digest}"


def _records(lines: Iterable[str], path: str, **dialect: object) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, fields) for each non-blank CSV record."""
    reader = csv.reader(lines, **dialect)  # type: ignore[arg-type]
    previous = 0
    try:
        for row in reader:
            first, previous = previous + 1, reader.line_num
            if row:
                yield first, row
    except csv.Error as exc:
        raise CdrError(path, previous + 1, f"not readable as CSV: {exc}") from None


def _seconds(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a whole number of seconds") from None
    if value < 0:
        raise ValueError(f"{what} {value} is negative")
    return value


def _span(
    clock: _Clock, start_text: str, answer_text: str, end_text: str, duration: int, billsec: int
) -> tuple[datetime, datetime | None, datetime]:
    """(start, answer, end) in UTC; in an hour read twice, the readings that agree with the durations."""
    if not start_text:
        raise ValueError("the start time is empty")
    if not end_text:
        raise ValueError("the end time is empty")
    starts, ends = clock.candidates(start_text), clock.candidates(end_text)
    if len(starts) == 1 and len(ends) == 1:
        start, end = starts[0], ends[0]
    else:
        start, end = min(
            ((s, e) for s in starts for e in ends),
            key=lambda pair: abs((pair[1] - pair[0]).total_seconds() - duration),
        )
    answer = None
    if answer_text:
        answers = clock.candidates(answer_text)
        if len(answers) == 1:
            answer = answers[0]
        else:
            target = end - timedelta(seconds=billsec)
            answer = min(answers, key=lambda option: abs((option - target).total_seconds()))
    if end < start - _ONE_SECOND:
        raise ValueError(f"it ends ({end_text}) before it starts ({start_text})")
    return start, answer, end


_ONE_SECOND = timedelta(seconds=1)


# --------------------------------------------------------------------------- Asterisk

ASTERISK_COLUMNS = (
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
)
_ASTERISK_OPTIONAL_BY_COUNT = {
    16: (False, False, False),
    18: (True, True, False),
    19: (False, False, True),
    21: (True, True, True),
}
_ASTERISK_DISPOSITIONS = {
    "ANSWERED": PbxDisposition.ANSWERED,
    "NO ANSWER": PbxDisposition.NO_ANSWER,
    "CANCEL": PbxDisposition.NO_ANSWER,
    "BUSY": PbxDisposition.BUSY,
    "FAILED": PbxDisposition.FAILED,
    "CONGESTION": PbxDisposition.FAILED,
    "UNKNOWN": PbxDisposition.FAILED,
}


def _userfield_callid(userfield: str) -> str | None:
    for item in userfield.split(";"):
        item = item.strip()
        if item[:7].lower() == "callid=" and item[7:].strip():
            return item[7:].strip()
    return None


def parse_asterisk(
    lines: Iterable[str],
    *,
    path: str = "<input>",
    timezone: tzinfo | str | None = None,
    gmt: bool = False,
    loguniqueid: bool | None = None,
    loguserfield: bool | None = None,
    newcdrcolumns: bool | None = None,
    region: str = "US",
    extension_pattern: str | re.Pattern[str] = DEFAULT_EXTENSION_PATTERN,
) -> Iterator[PbxCall]:
    """The calls of an Asterisk ``Master.csv`` (see the module's doc for the columns)."""
    clock = _Clock(_zone(timezone, gmt))
    parties = _Parties(region, extension_pattern)
    expected = 0
    layout: tuple[bool, bool, bool] | None = None
    for line, row in _records(lines, path):
        if layout is None:
            if line == 1 and row[0].strip().lower() == "accountcode" and "billsec" in (f.lower() for f in row):
                continue  # a header someone added
            layout, expected = _asterisk_layout(len(row), loguniqueid, loguserfield, newcdrcolumns, path, line)
        if len(row) != expected:
            raise CdrError(path, line, f"{len(row)} columns where the file's records have {expected}")
        try:
            yield _asterisk_call(row, line, layout, clock, parties)
        except ValueError as exc:
            raise CdrError(path, line, str(exc)) from None


def _asterisk_layout(
    count: int, uniqueid: bool | None, userfield: bool | None, newcols: bool | None, path: str, line: int
) -> tuple[tuple[bool, bool, bool], int]:
    """Which optional columns a record of ``count`` columns has, within what the caller said."""
    fits = [
        (u, f, n)
        for u in (False, True)
        for f in (False, True)
        for n in (False, True)
        if 16 + u + f + 3 * n == count and uniqueid in (None, u) and userfield in (None, f) and newcols in (None, n)
    ]
    if not fits:
        raise CdrError(
            path,
            line,
            f"{count} columns: an Asterisk cdr_csv record has 16 (accountcode ... amaflags), then uniqueid "
            "and userfield if logged (loguniqueid, loguserfield), then peeraccount, linkedid and sequence "
            "(newcdrcolumns)" + ("" if (uniqueid, userfield, newcols) == (None, None, None) else ", as said"),
        )
    if len(fits) > 1:
        raise CdrError(
            path,
            line,
            f"{count} columns: one of uniqueid and userfield is logged; say which (cdr.conf loguniqueid, loguserfield)",
        )
    return fits[0], count


def _asterisk_call(
    row: list[str], line: int, layout: tuple[bool, bool, bool], clock: _Clock, parties: _Parties
) -> PbxCall:
    src, dst, clid, channel, dstchannel = row[1], row[2], row[4], row[5], row[6]
    duration = _seconds(row[12], "duration")
    billsec = _seconds(row[13], "billsec")
    disposition = _ASTERISK_DISPOSITIONS.get(row[14].strip().upper())
    if disposition is None:
        raise ValueError(f"unknown disposition {row[14]!r} (ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION)")
    index = 16
    uniqueid = userfield = None
    if layout[0]:
        uniqueid = row[index] or None
        index += 1
    if layout[1]:
        userfield = row[index]
        index += 1
    start, answer, end = _span(clock, row[9], row[10], row[11], duration, billsec)
    caller_ext = parties.extension(src) or parties.channel_extension(channel)
    callee_ext = parties.extension(dst) or parties.channel_extension(dstchannel)
    direction, extension, peer = parties.direction(caller_ext, callee_ext)
    return PbxCall(
        source_format=CdrFormat.ASTERISK,
        line=line,
        start_utc=start,
        answer_utc=answer,
        end_utc=end,
        duration_s=duration,
        billsec=billsec,
        caller=src,
        callee=dst,
        caller_e164=parties.e164(src),
        callee_e164=parties.e164(dst),
        caller_name=_clid_name(clid),
        extension=extension,
        peer_extension=peer,
        direction=direction,
        disposition=disposition,
        sip_call_id=_userfield_callid(userfield) if userfield else None,
        pbx_unique_id=uniqueid,
        dedup_key=_key("asterisk", *row),
    )


# --------------------------------------------------------------------------- FreeSWITCH

FREESWITCH_COLUMNS = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
    "read_codec",
    "write_codec",
)
_FREESWITCH_BUSY = {"USER_BUSY", "CALL_REJECTED"}
_FREESWITCH_NO_ANSWER = {"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL", "NORMAL_CLEARING"}
_HANGUP_CAUSE = re.compile(r"[A-Z][A-Z0-9_]*")


def parse_freeswitch(
    lines: Iterable[str],
    *,
    path: str = "<input>",
    timezone: tzinfo | str | None = None,
    region: str = "US",
    extension_pattern: str | re.Pattern[str] = DEFAULT_EXTENSION_PATTERN,
) -> Iterator[PbxCall]:
    """The calls of a FreeSWITCH ``mod_cdr_csv`` file written with the default template."""
    clock = _Clock(_zone(timezone, False))
    parties = _Parties(region, extension_pattern)
    expected: int | None = None
    for line, row in _records(lines, path, skipinitialspace=True):
        if expected is None:
            if line == 1 and row[0].strip().lower() == "caller_id_name":
                continue
            if len(row) not in (13, 14, 15, 16):
                raise CdrError(
                    path,
                    line,
                    f"{len(row)} columns: the default template writes 15 (caller_id_name ... write_codec), "
                    "the module's built-in one 13, each with one more for an appended ${sip_call_id}",
                )
            expected = len(row)
        if len(row) != expected:
            raise CdrError(path, line, f"{len(row)} columns where the file's records have {expected}")
        try:
            yield _freeswitch_call(row, line, clock, parties)
        except ValueError as exc:
            raise CdrError(path, line, str(exc)) from None


def _freeswitch_call(row: list[str], line: int, clock: _Clock, parties: _Parties) -> PbxCall:
    name, caller, callee, context = row[0], row[1], row[2], row[3]
    duration = _seconds(row[7], "duration")
    billsec = _seconds(row[8], "billsec")
    cause = row[9].strip()
    if not _HANGUP_CAUSE.fullmatch(cause):
        raise ValueError(f"hangup_cause {cause!r} is not a FreeSWITCH hangup cause")
    uuid = row[10].strip()
    if not uuid:
        raise ValueError("uuid is empty")
    call_id = row[-1].strip() if len(row) in (14, 16) else ""
    start, answer, end = _span(clock, row[4], row[5], row[6], duration, billsec)
    if answer is not None:
        disposition = PbxDisposition.ANSWERED
    elif cause in _FREESWITCH_BUSY:
        disposition = PbxDisposition.BUSY
    elif cause in _FREESWITCH_NO_ANSWER:
        disposition = PbxDisposition.NO_ANSWER
    else:
        disposition = PbxDisposition.FAILED
    caller_ext = parties.extension(caller)
    callee_ext = parties.extension(callee)
    direction, extension, peer = parties.direction(caller_ext, callee_ext, inbound_hint=context == "public")
    return PbxCall(
        source_format=CdrFormat.FREESWITCH,
        line=line,
        start_utc=start,
        answer_utc=answer,
        end_utc=end,
        duration_s=duration,
        billsec=billsec,
        caller=caller,
        callee=callee,
        caller_e164=parties.e164(caller),
        callee_e164=parties.e164(callee),
        caller_name=name.strip(),
        extension=extension,
        peer_extension=peer,
        direction=direction,
        disposition=disposition,
        sip_call_id=call_id or None,
        pbx_unique_id=uuid,
        dedup_key=f"freeswitch:{uuid}",
    )


# --------------------------------------------------------------------------- Kamailio acc

_ACC_MARK = "ACC: "
_ACC_SPLIT = re.compile(r";(?=[A-Za-z_][A-Za-z0-9_]*=)")
KAMAILIO_CALLER_KEYS = ("src_user",)
KAMAILIO_CALLEE_KEYS = ("dst_ouser", "dst_user")


@dataclass(slots=True)
class _AccCall:
    line: int
    call_id: str
    from_tag: str
    first_ts: int
    last_ts: int
    code: int
    caller: str
    callee: str
    answer_ts: int | None = None


def _whole(text: str, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{what} {value} is negative")
    return value


def _acc_disposition(code: int) -> PbxDisposition:
    if 200 <= code < 300:
        return PbxDisposition.ANSWERED
    if code in (486, 600, 603):
        return PbxDisposition.BUSY
    if code in (408, 480, 487):
        return PbxDisposition.NO_ANSWER
    return PbxDisposition.FAILED


def _acc_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for item in _ACC_SPLIT.split(text):
        key, sep, value = item.partition("=")
        if sep:
            attributes.setdefault(key, value)
    return attributes


def parse_kamailio_acc(
    lines: Iterable[str],
    *,
    path: str = "<input>",
    region: str = "US",
    extension_pattern: str | re.Pattern[str] = DEFAULT_EXTENSION_PATTERN,
    fork_window_s: int = KAMAILIO_FORK_WINDOW_S,
) -> Iterator[PbxCall]:
    """The calls in a log holding Kamailio ``acc`` records (other lines are passed over)."""
    parties = _Parties(region, extension_pattern)
    answered: dict[str, _AccCall] = {}  # waiting for their BYE
    missed: dict[str, _AccCall] = {}  # waiting out fork_window_s, oldest first
    for number, text in enumerate(lines, 1):
        at = text.find(_ACC_MARK)
        if at < 0:
            continue
        try:
            _kind, sep, rest = text[at + len(_ACC_MARK) :].partition(": ")
            if not sep or not rest.startswith("timestamp="):
                raise ValueError("an ACC: line without 'KIND: timestamp=...' after it")
            attributes = _acc_attributes(rest.rstrip("\r\n"))
            ts = _whole(attributes["timestamp"], "timestamp")
            method = attributes.get("method", "").strip().upper()
            if not method:
                raise ValueError("the record has no method")
            call_id = attributes.get("call_id", "").strip()
            if not call_id:
                raise ValueError("the record has no call_id")
            code_text = attributes.get("code", "").strip()
            if not code_text:
                raise ValueError("the record has no code")
            code = _whole(code_text, "code")
            if not 100 <= code <= 699:
                raise ValueError(f"code {code} is not a SIP status code")
        except ValueError as exc:
            raise CdrError(path, number, str(exc)) from None
        while missed:
            oldest = next(iter(missed.values()))
            if oldest.last_ts + fork_window_s >= ts:
                break
            del missed[oldest.call_id]
            yield _acc_call(oldest, parties)
        if method == "INVITE":
            if code < 200:
                continue  # early media
            call = answered.get(call_id)
            if call is not None:
                continue  # a re-INVITE of an answered call
            call = missed.pop(call_id, None)
            if call is None:
                call = _AccCall(
                    line=number,
                    call_id=call_id,
                    from_tag=attributes.get("from_tag", "").strip(),
                    first_ts=ts,
                    last_ts=ts,
                    code=code,
                    caller=next((attributes[k] for k in KAMAILIO_CALLER_KEYS if attributes.get(k)), ""),
                    callee=next((attributes[k] for k in KAMAILIO_CALLEE_KEYS if attributes.get(k)), ""),
                )
            call.code, call.last_ts = code, ts
            if code < 300:
                call.answer_ts = ts
                answered[call_id] = call
            else:
                missed[call_id] = call  # (re)inserted last: the newest
        elif method == "BYE":
            call = answered.pop(call_id, None)
            if call is not None:
                call.last_ts = max(ts, call.answer_ts or ts)
                yield _acc_call(call, parties)
    for call in (*missed.values(), *answered.values()):
        yield _acc_call(call, parties, ended=call.answer_ts is None)


def _acc_call(call: _AccCall, parties: _Parties, ended: bool = True) -> PbxCall:
    start = datetime.fromtimestamp(call.first_ts, UTC)
    answer = datetime.fromtimestamp(call.answer_ts, UTC) if call.answer_ts is not None else None
    end = datetime.fromtimestamp(call.last_ts, UTC) if ended else None
    caller_ext = parties.extension(call.caller)
    callee_ext = parties.extension(call.callee)
    direction, extension, peer = parties.direction(caller_ext, callee_ext)
    if end is None:
        duration = billsec = None
    else:
        duration = call.last_ts - call.first_ts
        billsec = call.last_ts - call.answer_ts if call.answer_ts is not None else 0
    return PbxCall(
        source_format=CdrFormat.KAMAILIO_ACC,
        line=call.line,
        start_utc=start,
        answer_utc=answer,
        end_utc=end,
        duration_s=duration,
        billsec=billsec,
        caller=call.caller,
        callee=call.callee,
        caller_e164=parties.e164(call.caller),
        callee_e164=parties.e164(call.callee),
        caller_name="",
        extension=extension,
        peer_extension=peer,
        direction=direction,
        disposition=_acc_disposition(call.code),
        sip_call_id=call.call_id,
        pbx_unique_id=None,
        dedup_key=_key("kamailio", call.call_id, call.from_tag),
    )


# --------------------------------------------------------------------------- entry points

_PARSERS: dict[CdrFormat, Callable[..., Iterator[PbxCall]]] = {
    CdrFormat.ASTERISK: parse_asterisk,
    CdrFormat.FREESWITCH: parse_freeswitch,
    CdrFormat.KAMAILIO_ACC: parse_kamailio_acc,
}


def parse(lines: Iterable[str], fmt: CdrFormat | str, *, path: str = "<input>", **options: object) -> Iterator[PbxCall]:
    """The calls in ``lines`` (an open text file, a list of strings) of format ``fmt``.

    ``options`` are those of the format's parser (``timezone``, ``gmt``,
    ``region``, ``extension_pattern`` ...); one it does not take is a TypeError.
    """
    try:
        parser = _PARSERS[CdrFormat(fmt)]
    except ValueError:
        raise ValueError(f"unknown PBX record format {fmt!r} (asterisk, freeswitch, kamailio-acc)") from None
    return parser(lines, path=path, **options)


def parse_file(file: str | Path, fmt: CdrFormat | str, **options: object) -> Iterator[PbxCall]:
    """The calls in the file at ``file``, read as it streams (UTF-8; undecodable bytes replaced)."""
    path = str(file)
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        yield from parse(fh, fmt, path=path, **options)


def check_file(file: str | Path, fmt: CdrFormat | str, **options: object) -> int:
    """Read the whole file as :func:`parse_file` does, keeping nothing: the number of calls, or the first CdrError.

    For an importer's first pass (or a dry run): nothing of a file with a bad
    row need ever reach the store.
    """
    return sum(1 for _call in parse_file(file, fmt, **options))
