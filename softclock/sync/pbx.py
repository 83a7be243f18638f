"""The PBX's own call records into the central store (``softclock admin import-cdr``).

A file is read once, streaming (:mod:`softclock.reports.cdr`), inside one
transaction. On PostgreSQL a child process parses it and writes its calls in
COPY's text format; this process copies them, in rounds of ~32 MB, into a
temporary table and moves each round into ``pbx_calls`` with ``INSERT ...
SELECT ... ON CONFLICT (dedup_key) DO NOTHING`` while the child reads on (the
parse and the server's work overlap on two cores). On SQLite they go in with
``executemany`` of ``INSERT OR IGNORE``. A bad row raises
:class:`~softclock.reports.cdr.CdrError` (file, line, problem) and the
transaction rolls back: nothing of that file is imported. Importing the same
file twice adds nothing (the dedup key is unique).

Each call is given the timekeeper whose ``extension`` it was on at import
time (``admin add-timekeeper --extension`` / ``set-timekeeper --extension``).
"""

from __future__ import annotations

import json
import logging
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from softclock.errors import InputError
from softclock.formatting import utc_now
from softclock.reports import cdr

COLUMNS = (
    "dedup_key",
    "source_format",
    "source_file",
    "source_line",
    "start_utc",
    "answer_utc",
    "end_utc",
    "duration_s",
    "billsec",
    "caller",
    "callee",
    "remote_e164",
    "extension",
    "direction",
    "disposition",
    "sip_call_id",
    "pbx_unique_id",
    "timekeeper_id",
    "imported_utc",
    "remote_hash",
)
log = logging.getLogger("softclock.sync.pbx")
_SQLITE_CHUNK = 20_000
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # as SQLAlchemy writes DateTime on SQLite


@dataclass(frozen=True)
class ImportResult:
    path: str
    read: int  # calls in the file
    added: int  # new in the store
    mapped: int  # calls on a timekeeper's extension
    seconds: float

    @property
    def already(self) -> int:
        return self.read - self.added

    def summary(self) -> str:
        return (
            f"{self.path}: {self.read} calls read, {self.added} added, {self.already} already in the store; "
            f"{self.mapped} on a timekeeper's extension ({self.seconds:.1f} s)."
        )


def _naive(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=None)


def _options(fmt: cdr.CdrFormat, timezone: str | None, gmt: bool, region: str) -> dict[str, object]:
    options: dict[str, object] = {"region": region}
    if fmt is cdr.CdrFormat.KAMAILIO_ACC:
        if timezone or gmt:
            raise InputError("Kamailio acc records carry Unix timestamps: --timezone and --gmt do not apply")
        return options
    if gmt:
        if fmt is not cdr.CdrFormat.ASTERISK:
            raise InputError("--gmt is Asterisk's usegmtime; FreeSWITCH writes local times (give --timezone)")
        options["gmt"] = True
    if timezone:
        options["timezone"] = timezone
    return options


def _hasher(key: str | None) -> Any:
    """The firm-keyed hash of an E.164 number (cached in a dict: callers repeat), or None without a key."""
    from softclock.sync.calls import number_hash

    cache: dict[str | None, str | None] = {None: None}

    def hashed(number: str | None) -> str | None:
        try:
            return cache[number]
        except KeyError:
            pass
        value = number_hash(key, number) if key and number else None
        if len(cache) > 200_000:
            cache.clear()
            cache[None] = None
        cache[number] = value
        return value

    return hashed


def rows(
    calls: Iterable[cdr.PbxCall],
    source_file: str,
    extensions: dict[str, str],
    now: datetime,
    counts: list[int],
    key: str | None = None,
) -> Iterator[tuple[object, ...]]:
    """The ``pbx_calls`` row of each call (in :data:`COLUMNS` order); counts[0] read, counts[1] mapped."""
    source = source_file[-300:]
    hashed = _hasher(key)
    for call in calls:
        keeper = extensions.get(call.extension) if call.extension else None
        counts[0] += 1
        if keeper is not None:
            counts[1] += 1
        yield (
            call.dedup_key,
            call.source_format.value,
            source,
            call.line,
            call.start_utc.replace(tzinfo=None),
            _naive(call.answer_utc),
            _naive(call.end_utc),
            call.duration_s,
            call.billsec,
            call.caller[:128],
            call.callee[:128],
            call.remote_e164,
            call.extension,
            call.direction.value if call.direction is not None else None,
            call.disposition.value,
            call.sip_call_id[:255] if call.sip_call_id else None,
            call.pbx_unique_id[:64] if call.pbx_unique_id else None,
            keeper,
            now,
            hashed(call.remote_e164),
        )


def extension_map(conn: Connection) -> dict[str, str]:
    return {
        str(ext): str(tk)
        for ext, tk in conn.execute(text("SELECT extension, id FROM timekeepers WHERE extension IS NOT NULL"))
    }


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_line(row: tuple[object, ...]) -> str:
    """A row in COPY's text format (tab-separated, \\N for NULL, backslash escapes)."""
    out = []
    for v in row:
        if v is None:
            out.append("\\N")
        elif isinstance(v, str):
            out.append(v.translate(_COPY_ESCAPES) if ("\\" in v or "\t" in v or "\n" in v or "\r" in v) else v)
        else:
            out.append(str(v))
    return "\t".join(out) + "\n"


_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _text(value: str | None) -> str:
    if value is None:
        return "\\N"
    return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def copy_lines(
    calls: Iterable[cdr.PbxCall],
    source_file: str,
    extensions: dict[str, str],
    now: datetime,
    counts: list[int],
    key: str | None = None,
) -> Iterator[str]:
    """The same rows as :func:`rows`, already in COPY's text format (the parser process's hot loop: times are
    aware UTC, whose +00:00 a timestamp column ignores)."""
    source = _text(source_file[-300:])
    stamp = now.isoformat()
    hashed = _hasher(key)
    for call in calls:
        ext = call.extension
        keeper = extensions.get(ext) if ext else None
        counts[0] += 1
        if keeper is not None:
            counts[1] += 1
        answer, end, direction = call.answer_utc, call.end_utc, call.direction
        duration, billsec, callid, uid = call.duration_s, call.billsec, call.sip_call_id, call.pbx_unique_id
        yield (
            f"{_text(call.dedup_key)}\t{call.source_format.value}\t{source}\t{call.line}\t"
            f"{call.start_utc.isoformat()}\t{answer.isoformat() if answer else _NULL}\t"
            f"{end.isoformat() if end else _NULL}\t{_NULL if duration is None else duration}\t"
            f"{_NULL if billsec is None else billsec}\t{_text(call.caller[:128])}\t{_text(call.callee[:128])}\t"
            f"{_text(call.remote_e164)}\t{_text(ext)}\t{direction.value if direction is not None else _NULL}\t"
            f"{call.disposition.value}\t{_text(callid[:255]) if callid else _NULL}\t"
            f"{_text(uid[:64]) if uid else _NULL}\t{_text(keeper)}\t{stamp}\t{_text(hashed(call.remote_e164))}\n"
        )


_NULL = "\\N"


def _copy_staging(cur: Any, cols: str) -> None:
    cur.execute("SET LOCAL work_mem = '256MB'")
    cur.execute(f"CREATE TEMP TABLE softclock_pbx_import ON COMMIT DROP AS SELECT {cols} FROM pbx_calls WITH NO DATA")


def _move_staged(cur: Any, cols: str, keep: bool = False) -> int:
    # ON CONFLICT DO NOTHING also skips a key repeated inside the file (the first row stays). (An anti-join
    # with DISTINCT ON and a plain INSERT measured slower: 45 s against 34 s for a million records.)
    cur.execute(
        f"INSERT INTO pbx_calls ({cols}) SELECT {cols} FROM softclock_pbx_import ON CONFLICT (dedup_key) DO NOTHING"
    )
    added = int(cur.rowcount)
    cur.execute("TRUNCATE softclock_pbx_import" if keep else "DROP TABLE softclock_pbx_import")
    return added


_ROUND_BYTES = 32 << 20  # ~130,000 rows a round
_QUEUED_CHUNKS = 256  # chunks of ~1 MB the parser may run ahead by


def _read_lines(stream: Any, chunks: queue.Queue[bytes | None]) -> None:
    """Chunks of whole lines from the parser's stdout (a COPY round must end at a row's end), then None."""
    rest = b""
    while block := stream.read(1 << 20):
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if cut:
            chunks.put(block[:cut])
    if rest:
        chunks.put(rest)
    chunks.put(None)


def insert_rows(conn: Connection, source: Iterable[tuple[object, ...]]) -> int:
    """Insert ``source`` rows into ``pbx_calls`` skipping known dedup keys (bulk); how many were added."""
    cols = ", ".join(COLUMNS)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur:
            _copy_staging(cur, cols)
            with cur.copy(f"COPY softclock_pbx_import ({cols}) FROM STDIN") as copy:
                batch: list[str] = []
                for row in source:
                    batch.append(copy_line(row))
                    if len(batch) >= 5000:
                        copy.write("".join(batch))
                        batch.clear()
                if batch:
                    copy.write("".join(batch))
            return _move_staged(cur, cols)
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        marks = ", ".join("?" for _ in COLUMNS)
        sql = f"INSERT OR IGNORE INTO pbx_calls ({cols}) VALUES ({marks})"
        before = raw.total_changes
        cur = raw.cursor()
        chunk: list[tuple[object, ...]] = []
        for row in source:
            chunk.append(tuple(v.strftime(_SQLITE_TIME) if isinstance(v, datetime) else v for v in row))
            if len(chunk) >= _SQLITE_CHUNK:
                cur.executemany(sql, chunk)
                chunk.clear()
        if chunk:
            cur.executemany(sql, chunk)
        return int(raw.total_changes - before)
    added = 0  # other dialects: row by row through SQLAlchemy
    for row in source:
        exists = conn.execute(text("SELECT 1 FROM pbx_calls WHERE dedup_key = :k"), {"k": row[0]}).first()
        if not exists:
            conn.execute(
                text(f"INSERT INTO pbx_calls ({cols}) VALUES ({', '.join(':' + c for c in COLUMNS)})"),
                dict(zip(COLUMNS, row, strict=True)),
            )
            added += 1
    return added


def import_file(
    engine: Engine,
    path: str | Path,
    fmt: str,
    *,
    timezone: str | None = None,
    gmt: bool = False,
    region: str = "US",
) -> ImportResult:
    """Import a PBX call record file in one transaction; a bad row imports nothing (its CdrError is raised)."""
    try:
        form = cdr.CdrFormat(fmt)
    except ValueError:
        raise InputError(f"unknown PBX record format {fmt!r} (asterisk, freeswitch, kamailio-acc)") from None
    options = _options(form, timezone, gmt, region)
    name = str(path)
    if not Path(name).is_file():
        raise InputError(f"Cannot read {name}: no such file")
    started = time.perf_counter()
    counts = [0, 0]
    try:
        with engine.begin() as conn:
            extensions = extension_map(conn)
            key = conn.execute(text("SELECT value FROM firm_settings WHERE key = 'number_hash_key'")).scalar()
            if conn.dialect.name == "postgresql":
                added = _import_piped(conn, name, form, options, extensions, counts, key)
            else:
                calls = cdr.parse_file(name, form, **options)
                added = insert_rows(conn, rows(calls, name, extensions, utc_now(), counts, key))
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{name}: {exc}") from None  # an unknown time zone, say
    return ImportResult(name, counts[0], added, counts[1], time.perf_counter() - started)


# --------------------------------------------------------------------------- the parser process
#
# On PostgreSQL the file is parsed in a child process that writes the rows in COPY's text format to
# its stdout, which this process streams into the COPY: parsing (Python, one core) and the server's
# work (another core) overlap. The child says how it ended in a small JSON file: the counts, or the
# bad row (file, line, problem), on which the COPY is abandoned and the transaction rolled back.


def _import_piped(
    conn: Connection,
    name: str,
    form: cdr.CdrFormat,
    options: dict[str, object],
    extensions: dict[str, str],
    counts: list[int],
    key: str | None,
) -> int:
    cols = ", ".join(COLUMNS)
    raw: Any = conn.connection.driver_connection
    with tempfile.TemporaryDirectory(prefix="softclock-cdr-") as tmp:
        result_path = Path(tmp) / "result.json"
        job = {
            "path": name,
            "format": form.value,
            "options": options,
            "extensions": extensions,
            "now": utc_now().isoformat(),
            "result": str(result_path),
            "key": key,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "softclock.sync.pbx"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
            chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
            reader = threading.Thread(target=_read_lines, args=(proc.stdout, chunks), daemon=True)
            reader.start()
            added = 0
            timing = {"waiting for the parser": 0.0, "moving rounds into pbx_calls": 0.0}
            with raw.cursor() as cur:
                _copy_staging(cur, cols)
                done = False
                while not done:
                    # A round: COPY about _ROUND_BYTES of rows into the staging table, then move them into
                    # pbx_calls, while the parser process keeps reading the file on another core.
                    size = 0
                    with cur.copy(f"COPY softclock_pbx_import ({cols}) FROM STDIN") as copy:
                        while size < _ROUND_BYTES:
                            began = time.perf_counter()
                            chunk = chunks.get()
                            timing["waiting for the parser"] += time.perf_counter() - began
                            if chunk is None:
                                done = True
                                break
                            copy.write(chunk)
                            size += len(chunk)
                        if done:
                            proc.wait()
                            outcome = json.loads(result_path.read_text()) if result_path.exists() else {}
                            if "error" in outcome:
                                raise cdr.CdrError(*outcome["error"])
                            if "fatal" in outcome or "read" not in outcome:
                                raise InputError(f"{name}: {outcome.get('fatal') or 'the PBX record reader failed'}")
                    began = time.perf_counter()
                    added += _move_staged(cur, cols, keep=not done)
                    timing["moving rounds into pbx_calls"] += time.perf_counter() - began
                counts[0], counts[1] = outcome["read"], outcome["mapped"]
                log.debug("import-cdr %s: %s", name, ", ".join(f"{k} {v:.1f} s" for k, v in timing.items()))
                return added
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _worker() -> int:
    job = json.loads(sys.stdin.read())
    counts = [0, 0]
    out = sys.stdout.buffer
    outcome: dict[str, object]
    try:
        calls = cdr.parse_file(job["path"], job["format"], **job["options"])
        batch: list[str] = []
        for line in copy_lines(
            calls, job["path"], job["extensions"], datetime.fromisoformat(job["now"]), counts, job.get("key")
        ):
            batch.append(line)
            if len(batch) >= 5000:
                out.write("".join(batch).encode("utf-8", "surrogateescape"))
                batch.clear()
        out.write("".join(batch).encode("utf-8", "surrogateescape"))
        out.flush()
        outcome = {"read": counts[0], "mapped": counts[1]}
    except cdr.CdrError as exc:
        outcome = {"error": [exc.path, exc.line, exc.problem]}
    except (ValueError, OSError) as exc:
        outcome = {"fatal": str(exc)}
    Path(job["result"]).write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
