"""Change-sequence triggers (both dialects) and, on PostgreSQL, roles and row-level security.

Three group roles, created once per PostgreSQL cluster:

``softclock_timekeeper``
    reads clients, matters, numbers, codes and the policy; inserts, reads and
    updates only its own entries (``timekeeper_id = current_user``), never an
    invoiced one, never marks one invoiced, never deletes.
``softclock_billing``
    reads every entry and may change only ``status`` and ``invoiced_utc``
    (marking entries invoiced).
``softclock_admin``
    manages clients, matters, numbers, codes, the policy and timekeepers.

A timekeeper's login role is named by their timekeeper id (``softclock admin
add-timekeeper``). Reference rows take the next value of one sequence under a
transaction-scoped advisory lock, so change numbers become visible in the
order they were handed out and a laptop's cursor never skips a row.

The ``*_v1`` functions are what migration c0001 installs; a later migration
that changes them adds a ``*_v2`` rather than editing these: c0002 installs
``*_v2`` (content checked against its hash, every version kept, chain anchors).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, text

ROLES = ("softclock_timekeeper", "softclock_billing", "softclock_admin")
_REF_KEYS = {"clients": "id", "matters": "id", "contact_numbers": "id", "codes": "code", "billing_policy": "id"}
_LOCK_KEY = 7405411  # pg_advisory_xact_lock key that orders change numbers


def install_v1(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        _install_pg(conn)
    elif conn.dialect.name == "sqlite":
        _install_sqlite(conn)
    # other dialects: tables only; change numbers must then be set by the admin tools


def uninstall_v1(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP FUNCTION IF EXISTS softclock_next_change() CASCADE"))
        conn.execute(text("DROP FUNCTION IF EXISTS softclock_keep_version() CASCADE"))
        conn.execute(text("DROP SEQUENCE IF EXISTS softclock_change_seq"))
    elif conn.dialect.name == "sqlite":
        conn.execute(text("DROP TABLE IF EXISTS softclock_change_counter"))


def _sqlite_bump(table: str, key: str) -> str:
    return (
        "UPDATE softclock_change_counter SET value = value + 1; "
        f"UPDATE {table} SET change_seq = (SELECT value FROM softclock_change_counter) WHERE {key} = NEW.{key};"
    )


def _install_sqlite(conn: Connection) -> None:
    conn.execute(
        text(
            "CREATE TABLE IF NOT EXISTS softclock_change_counter "
            "(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)"
        )
    )
    conn.execute(text("INSERT OR IGNORE INTO softclock_change_counter (id, value) VALUES (1, 0)"))
    for table, key in _REF_KEYS.items():
        bump = _sqlite_bump(table, key)
        conn.execute(text(f"CREATE TRIGGER IF NOT EXISTS {table}_change_ins AFTER INSERT ON {table} BEGIN {bump} END"))
        conn.execute(
            text(
                f"CREATE TRIGGER IF NOT EXISTS {table}_change_upd AFTER UPDATE ON {table} "
                f"WHEN NEW.change_seq IS OLD.change_seq BEGIN {bump} END"
            )
        )
    conn.execute(
        text(
            "CREATE TRIGGER IF NOT EXISTS entries_invoiced AFTER UPDATE OF status ON entries "
            "WHEN NEW.status = 'invoiced' AND OLD.status IS NOT 'invoiced' BEGIN "
            + _sqlite_bump("entries", "id")
            + " END"
        )
    )
    conn.execute(
        text(
            "CREATE TRIGGER IF NOT EXISTS entries_keep_version BEFORE UPDATE ON entries "
            "WHEN NEW.version < OLD.version OR (OLD.status = 'invoiced' AND NEW.status <> 'invoiced') BEGIN "
            "SELECT RAISE(ABORT, 'an older entry version never overwrites a newer one, and invoiced stays invoiced'); END"
        )
    )


_PG_ROLES = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'softclock_timekeeper') THEN
    CREATE ROLE softclock_timekeeper NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'softclock_billing') THEN
    CREATE ROLE softclock_billing NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'softclock_admin') THEN
    CREATE ROLE softclock_admin NOLOGIN CREATEROLE; END IF;
END $$
"""

_PG_FUNCTIONS = """
CREATE SEQUENCE IF NOT EXISTS {s}.softclock_change_seq;
CREATE OR REPLACE FUNCTION {s}.softclock_next_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
BEGIN
  PERFORM pg_advisory_xact_lock({lock});
  NEW.change_seq := nextval('{s}.softclock_change_seq');
  RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION {s}.softclock_keep_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, {s} AS $$
BEGIN
  IF NEW.version < OLD.version THEN
    RAISE EXCEPTION 'entry %: version % never overwrites version %', OLD.id, NEW.version, OLD.version;
  END IF;
  IF OLD.status = 'invoiced' AND NEW.status <> 'invoiced' THEN
    RAISE EXCEPTION 'entry % is invoiced and stays invoiced', OLD.id;
  END IF;
  RETURN NEW;
END $$;
"""

_PG_GRANTS = """
REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC;
GRANT USAGE ON SCHEMA {s} TO softclock_timekeeper, softclock_billing, softclock_admin;
GRANT SELECT ON {s}.softclock_central_version TO softclock_timekeeper, softclock_billing, softclock_admin;
GRANT SELECT ON {s}.clients, {s}.matters, {s}.contact_numbers, {s}.codes, {s}.billing_policy
  TO softclock_timekeeper, softclock_billing;
GRANT SELECT, INSERT, UPDATE ON {s}.clients, {s}.matters, {s}.contact_numbers, {s}.codes, {s}.billing_policy,
  {s}.timekeepers TO softclock_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO softclock_admin;
GRANT SELECT ON {s}.timekeepers TO softclock_timekeeper, softclock_billing;
GRANT SELECT, INSERT, UPDATE ON {s}.entries TO softclock_timekeeper;
GRANT SELECT ON {s}.entries TO softclock_billing, softclock_admin;
GRANT UPDATE (status, invoiced_utc) ON {s}.entries TO softclock_billing;
GRANT SELECT, INSERT ON {s}.entry_conflicts, {s}.sync_log TO softclock_timekeeper;
GRANT USAGE ON SEQUENCE {s}.entry_conflicts_id_seq, {s}.sync_log_id_seq TO softclock_timekeeper;
GRANT SELECT ON {s}.entry_conflicts, {s}.sync_log TO softclock_billing, softclock_admin;

ALTER TABLE {s}.entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_reads_own ON {s}.entries FOR SELECT TO softclock_timekeeper
  USING (timekeeper_id = current_user);
CREATE POLICY timekeeper_adds_own ON {s}.entries FOR INSERT TO softclock_timekeeper
  WITH CHECK (timekeeper_id = current_user AND status = 'approved' AND invoiced_utc IS NULL);
CREATE POLICY timekeeper_updates_own ON {s}.entries FOR UPDATE TO softclock_timekeeper
  USING (timekeeper_id = current_user AND status = 'approved')
  WITH CHECK (timekeeper_id = current_user AND status = 'approved' AND invoiced_utc IS NULL);
CREATE POLICY staff_read ON {s}.entries FOR SELECT TO softclock_billing, softclock_admin USING (true);
CREATE POLICY billing_invoices ON {s}.entries FOR UPDATE TO softclock_billing
  USING (true) WITH CHECK (status IN ('approved', 'invoiced'));

ALTER TABLE {s}.entry_conflicts ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_own ON {s}.entry_conflicts FOR ALL TO softclock_timekeeper
  USING (timekeeper_id = current_user) WITH CHECK (timekeeper_id = current_user);
CREATE POLICY staff_read ON {s}.entry_conflicts FOR SELECT TO softclock_billing, softclock_admin USING (true);

ALTER TABLE {s}.sync_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_own ON {s}.sync_log FOR ALL TO softclock_timekeeper
  USING (timekeeper_id = current_user) WITH CHECK (timekeeper_id = current_user);
CREATE POLICY staff_read ON {s}.sync_log FOR SELECT TO softclock_billing, softclock_admin USING (true);

ALTER TABLE {s}.timekeepers ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_own ON {s}.timekeepers FOR SELECT TO softclock_timekeeper USING (id = current_user);
CREATE POLICY staff_read ON {s}.timekeepers FOR SELECT TO softclock_billing USING (true);
CREATE POLICY admin_all ON {s}.timekeepers FOR ALL TO softclock_admin USING (true) WITH CHECK (true);
"""


def _run(conn: Connection, script: str, **names: object) -> None:
    raw = conn.connection.driver_connection  # psycopg, no parameters: '%' in plpgsql stays as written
    assert raw is not None
    for statement in _split(script.format(**names)):
        raw.execute(statement)


def _split(script: str) -> list[str]:
    """Statements of a script, keeping ``$$ ... $$`` bodies whole."""
    out, buf, quoted = [], [], False
    for part in script.split("$$"):
        if quoted:
            buf.append("$$" + part + "$$")
        else:
            pieces = part.split(";")
            buf.append(pieces[0])
            for piece in pieces[1:]:
                out.append("".join(buf))
                buf = [piece]
        quoted = not quoted
    out.append("".join(buf))
    return [s.strip() for s in out if s.strip()]


def _install_pg(conn: Connection) -> None:
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    s = conn.dialect.identifier_preparer.quote_identifier(schema)
    _run(conn, _PG_ROLES)
    _run(conn, _PG_FUNCTIONS, s=s, lock=_LOCK_KEY)
    for table in _REF_KEYS:
        conn.exec_driver_sql(
            f"CREATE TRIGGER {table}_change BEFORE INSERT OR UPDATE ON {s}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {s}.softclock_next_change()"
        )
    conn.exec_driver_sql(
        f"CREATE TRIGGER entries_invoiced BEFORE UPDATE ON {s}.entries FOR EACH ROW "
        "WHEN (NEW.status = 'invoiced' AND OLD.status IS DISTINCT FROM 'invoiced') "
        f"EXECUTE FUNCTION {s}.softclock_next_change()"
    )
    conn.exec_driver_sql(
        f"CREATE TRIGGER entries_keep_version BEFORE UPDATE ON {s}.entries FOR EACH ROW "
        f"EXECUTE FUNCTION {s}.softclock_keep_version()"
    )
    _run(conn, _PG_GRANTS, s=s)


# --------------------------------------------------------------------------------------------- v2 (c0002)
#
# An entry's content changes only with a higher version and a content hash that matches the new
# content (PostgreSQL computes the hash itself); every version is kept in ``entry_versions``,
# which nobody changes; and ``chain_anchors`` keeps the head of each laptop's audit chain as
# each push carried it. A timekeeper adds and reads their own anchors and reads their own
# versions; billing and admins read all of them.

# An entry's content as text (softclock.sync.central.content_text): each column as its UTF-8 length, a colon
# and its text, or "-" for none, joined by commas; written out as one expression (a call per row of a
# generic function cost 130 us, this a few).
_CONTENT_PARTS = (
    "{e}.id::text", "{e}.timekeeper_id::text", "{e}.matter_code::text", "{e}.client_name::text",
    "to_char({e}.work_date, 'YYYY-MM-DD')", "to_char({e}.started_utc, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
    "round({e}.raw_seconds::numeric, 3)::text", "round({e}.hold_seconds::numeric, 3)::text",
    "{e}.billed_units::text", "{e}.unit_minutes::text", "{e}.activity_code::text", "{e}.task_code::text",
    "{e}.narrative::text", "CASE WHEN {e}.billable THEN 'true' WHEN NOT {e}.billable THEN 'false' END",
    "{e}.remote_number::text", "{e}.direction::text",
)  # fmt: skip
_CONTENT_COLUMNS = ("id", "timekeeper_id", "matter_code", "client_name", "work_date", "started_utc", "raw_seconds",
                    "hold_seconds", "billed_units", "unit_minutes", "activity_code", "task_code", "narrative",
                    "billable", "remote_number", "direction")  # fmt: skip


def _content_sql(e: str) -> str:
    parts = [p.format(e=e) for p in _CONTENT_PARTS]
    return " || ',' || ".join(
        f"CASE WHEN ({p}) IS NULL THEN '-' ELSE octet_length(convert_to({p}, 'UTF8'))::text || ':' || ({p}) END"
        for p in parts
    )


def _hash_sql(e: str) -> str:
    return f"encode(sha256(convert_to({_content_sql(e)}, 'UTF8')), 'hex')"


def _same_content_sql() -> str:
    new = ", ".join(f"NEW.{c}" for c in _CONTENT_COLUMNS)
    old = ", ".join(f"OLD.{c}" for c in _CONTENT_COLUMNS)
    return f"({new}) IS NOT DISTINCT FROM ({old})"


_PG_FUNCTIONS_V2 = (
    """
CREATE OR REPLACE FUNCTION {s}.softclock_entry_content(e {s}.entries) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, {s} AS $$ SELECT """
    + _content_sql("e").replace("{", "{{").replace("}", "}}")
    + """ $$;
CREATE OR REPLACE FUNCTION {s}.softclock_entry_hash(e {s}.entries) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, {s} AS $$ SELECT """
    + _hash_sql("e").replace("{", "{{").replace("}", "}}")
    + """ $$;
CREATE OR REPLACE FUNCTION {s}.softclock_check_content() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, {s} AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.version = OLD.version AND NEW.content_hash = OLD.content_hash
     AND """
    + _same_content_sql()
    + """ THEN
    RETURN NEW;  -- not a change of content (marking it invoiced, say)
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.version <= OLD.version THEN
    RAISE EXCEPTION 'entry %: its content changes only with a higher version (% is not above %)',
      OLD.id, NEW.version, OLD.version;
  END IF;
  IF NEW.content_hash IS DISTINCT FROM """
    + _hash_sql("NEW").replace("{", "{{").replace("}", "}}")
    + """ THEN
    RAISE EXCEPTION 'entry % version %: its content hash does not match its content', NEW.id, NEW.version;
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION {s}.softclock_keep_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.version <> OLD.version OR NEW.content_hash <> OLD.content_hash THEN
    INSERT INTO {s}.entry_versions (entry_id, version, content_hash, timekeeper_id, matter_code, client_name,
      work_date, started_utc, raw_seconds, hold_seconds, billed_units, unit_minutes, activity_code, task_code,
      narrative, billable, remote_number, direction, recorded_utc, recorded_by)
    VALUES (NEW.id, NEW.version, NEW.content_hash, NEW.timekeeper_id, NEW.matter_code, NEW.client_name,
      NEW.work_date, NEW.started_utc, NEW.raw_seconds, NEW.hold_seconds, NEW.billed_units, NEW.unit_minutes,
      NEW.activity_code, NEW.task_code, NEW.narrative, NEW.billable, NEW.remote_number, NEW.direction,
      now() AT TIME ZONE 'UTC', session_user);
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION {s}.softclock_never_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, {s} AS $$
BEGIN
  RAISE EXCEPTION '% is kept as written: rows are never changed or deleted', TG_TABLE_NAME;
END $$;
"""
)

_PG_GRANTS_V2 = """
REVOKE ALL ON {s}.entry_versions, {s}.chain_anchors FROM PUBLIC;
GRANT SELECT ON {s}.entry_versions TO softclock_timekeeper, softclock_billing, softclock_admin;
GRANT SELECT, INSERT ON {s}.chain_anchors TO softclock_timekeeper;
GRANT USAGE ON SEQUENCE {s}.chain_anchors_id_seq TO softclock_timekeeper;
GRANT SELECT ON {s}.chain_anchors TO softclock_billing, softclock_admin;

ALTER TABLE {s}.entry_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_reads_own ON {s}.entry_versions FOR SELECT TO softclock_timekeeper
  USING (timekeeper_id = current_user);
CREATE POLICY staff_read ON {s}.entry_versions FOR SELECT TO softclock_billing, softclock_admin USING (true);

ALTER TABLE {s}.chain_anchors ENABLE ROW LEVEL SECURITY;
CREATE POLICY timekeeper_reads_own ON {s}.chain_anchors FOR SELECT TO softclock_timekeeper
  USING (timekeeper_id = current_user);
CREATE POLICY timekeeper_adds_own ON {s}.chain_anchors FOR INSERT TO softclock_timekeeper
  WITH CHECK (timekeeper_id = current_user);
CREATE POLICY staff_read ON {s}.chain_anchors FOR SELECT TO softclock_billing, softclock_admin USING (true);
"""

_V2_TRIGGERS = (
    ("entries_content", "BEFORE INSERT OR UPDATE ON {s}.entries FOR EACH ROW", "softclock_check_content"),
    ("entries_history", "AFTER INSERT OR UPDATE ON {s}.entries FOR EACH ROW", "softclock_keep_history"),
    ("entry_versions_kept", "BEFORE UPDATE OR DELETE ON {s}.entry_versions FOR EACH ROW", "softclock_never_changed"),
    (
        "entry_versions_not_truncated",
        "BEFORE TRUNCATE ON {s}.entry_versions FOR EACH STATEMENT",
        "softclock_never_changed",
    ),
    ("chain_anchors_kept", "BEFORE UPDATE OR DELETE ON {s}.chain_anchors FOR EACH ROW", "softclock_never_changed"),
    (
        "chain_anchors_not_truncated",
        "BEFORE TRUNCATE ON {s}.chain_anchors FOR EACH STATEMENT",
        "softclock_never_changed",
    ),
)

_HISTORY_COLUMNS = (
    "entry_id, version, content_hash, timekeeper_id, matter_code, client_name, work_date, started_utc, raw_seconds, "
    "hold_seconds, billed_units, unit_minutes, activity_code, task_code, narrative, billable, remote_number, "
    "direction, recorded_utc, recorded_by"
)
_ENTRY_COLUMNS = (
    "id, version, content_hash, timekeeper_id, matter_code, client_name, work_date, started_utc, raw_seconds, "
    "hold_seconds, billed_units, unit_minutes, activity_code, task_code, narrative, billable, remote_number, direction"
)


def install_v2(conn: Connection) -> None:
    """After the c0002 tables exist: content hashes as the store computes them, the history so far, the triggers."""
    if conn.dialect.name == "postgresql":
        _install_pg_v2(conn)
    elif conn.dialect.name == "sqlite":
        _install_sqlite_v2(conn)


def uninstall_v2(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for name in ("softclock_check_content", "softclock_keep_history", "softclock_never_changed"):
            conn.execute(text(f"DROP FUNCTION IF EXISTS {name}() CASCADE"))
        conn.execute(text("DROP FUNCTION IF EXISTS softclock_entry_hash(entries) CASCADE"))
        conn.execute(text("DROP FUNCTION IF EXISTS softclock_entry_content(entries) CASCADE"))
    elif conn.dialect.name == "sqlite":
        for name in (
            "entries_content_version",
            "entries_history_insert",
            "entries_history_update",
            "entry_versions_kept",
            "entry_versions_not_deleted",
            "chain_anchors_kept",
            "chain_anchors_not_deleted",
        ):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def _install_pg_v2(conn: Connection) -> None:
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    s = conn.dialect.identifier_preparer.quote_identifier(schema)
    _run(conn, _PG_FUNCTIONS_V2, s=s)
    # Content hashes as the store now checks them (they were the laptops' payload hashes), then the history so far.
    conn.exec_driver_sql(f"UPDATE {s}.entries SET content_hash = {s}.softclock_entry_hash(entries)")
    conn.exec_driver_sql(
        f"INSERT INTO {s}.entry_versions ({_HISTORY_COLUMNS}) SELECT {_ENTRY_COLUMNS}, "
        f"now() AT TIME ZONE 'UTC', current_user FROM {s}.entries"
    )
    for name, when, function in _V2_TRIGGERS:
        conn.exec_driver_sql(f"CREATE TRIGGER {name} {when.format(s=s)} EXECUTE FUNCTION {s}.{function}()")
    _run(conn, _PG_GRANTS_V2, s=s)


_SQLITE_CONTENT = (
    "matter_code",
    "client_name",
    "work_date",
    "started_utc",
    "raw_seconds",
    "hold_seconds",
    "billed_units",
    "unit_minutes",
    "activity_code",
    "task_code",
    "narrative",
    "billable",
    "remote_number",
    "direction",
    "timekeeper_id",
    "content_hash",
)


def _install_sqlite_v2(conn: Connection) -> None:
    """The embedded store is one person's: a change of content needs a higher version (SQLite has no SHA-256
    to check the hash with), every version is kept, and neither history nor anchors change."""
    from softclock.sync.central import content_hash

    rows = conn.execute(text(f"SELECT {_ENTRY_COLUMNS} FROM entries")).mappings().all()
    for row in rows:
        values = dict(row)
        for key in ("work_date", "started_utc"):
            if isinstance(values[key], str):
                values[key] = (date.fromisoformat if key == "work_date" else datetime.fromisoformat)(values[key])
        conn.execute(
            text("UPDATE entries SET content_hash = :h WHERE id = :i"), {"h": content_hash(values), "i": row["id"]}
        )
    now = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
    conn.execute(
        text(
            f"INSERT INTO entry_versions ({_HISTORY_COLUMNS}) SELECT {_ENTRY_COLUMNS}, {now}, 'installer' FROM entries"
        )
    )
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _SQLITE_CONTENT)
    conn.execute(
        text(
            f"CREATE TRIGGER entries_content_version BEFORE UPDATE ON entries WHEN ({changed}) AND NEW.version <= OLD.version "
            "BEGIN SELECT RAISE(ABORT, 'an entry''s content changes only with a higher version'); END"
        )
    )
    new_values = ", ".join(f"NEW.{c.strip()}" for c in _ENTRY_COLUMNS.split(","))
    insert = f"INSERT INTO entry_versions ({_HISTORY_COLUMNS}) VALUES ({new_values}, {now}, 'laptop');"
    conn.execute(text(f"CREATE TRIGGER entries_history_insert AFTER INSERT ON entries BEGIN {insert} END"))
    conn.execute(
        text(
            "CREATE TRIGGER entries_history_update AFTER UPDATE ON entries "
            f"WHEN NEW.version IS NOT OLD.version OR NEW.content_hash IS NOT OLD.content_hash BEGIN {insert} END"
        )
    )
    for table in ("entry_versions", "chain_anchors"):
        for name, what in (("kept", "UPDATE"), ("not_deleted", "DELETE")):
            conn.execute(
                text(
                    f"CREATE TRIGGER {table}_{name} BEFORE {what} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is kept as written: rows are never changed or deleted'); END"
                )
            )


# --------------------------------------------------------------------------------------------- v3 (c0005)
#
# The same rules for inserted entries, checked once per statement instead of once per row: a push inserts its
# batch in one statement, and the per-row plpgsql check and history insert cost ~60 us a row (most of a push's
# time in the store). The statement's new rows (a transition table) are checked for their content hash in one
# query (each content part computed once) and copied into the history in one INSERT ... SELECT. An UPDATE (a
# newer version, marking invoiced) keeps the v2 row triggers, which compare each row with its old self.


def _content_parts_sql(e: str) -> str:
    return ", ".join(f"{p.format(e=e)} AS p{i}" for i, p in enumerate(_CONTENT_PARTS))


def _hash_of_parts_sql() -> str:
    text_sql = " || ',' || ".join(
        f"CASE WHEN p{i} IS NULL THEN '-' ELSE octet_length(convert_to(p{i}, 'UTF8'))::text || ':' || p{i} END"
        for i in range(len(_CONTENT_PARTS))
    )
    return f"encode(sha256(convert_to({text_sql}, 'UTF8')), 'hex')"


def _pg_functions_v3(s: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {s}.softclock_entries_added() RETURNS trigger\n"
        f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$\n"
        "DECLARE bad record;\n"
        "BEGIN\n"
        f"  WITH p AS MATERIALIZED (SELECT n.id, n.version, n.content_hash, {_content_parts_sql('n')} FROM new_rows n)\n"
        f"  SELECT id, version INTO bad FROM p WHERE content_hash IS DISTINCT FROM {_hash_of_parts_sql()} LIMIT 1;\n"
        "  IF FOUND THEN\n"
        "    RAISE EXCEPTION 'entry % version %: its content hash does not match its content', bad.id, bad.version;\n"
        "  END IF;\n"
        f"  INSERT INTO {s}.entry_versions ({_HISTORY_COLUMNS}) SELECT {_ENTRY_COLUMNS}, now() AT TIME ZONE 'UTC', "
        "session_user FROM new_rows;\n"
        "  RETURN NULL;\n"
        "END $$"
    )


def install_v3(conn: Connection) -> None:
    """On PostgreSQL: inserted entries checked and kept in the history by one statement-level trigger."""
    if conn.dialect.name != "postgresql":
        return
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    s = conn.dialect.identifier_preparer.quote_identifier(schema)
    conn.connection.driver_connection.execute(_pg_functions_v3(s))  # type: ignore[union-attr]
    conn.exec_driver_sql(f"DROP TRIGGER entries_content ON {s}.entries")
    conn.exec_driver_sql(f"DROP TRIGGER entries_history ON {s}.entries")
    conn.exec_driver_sql(
        f"CREATE TRIGGER entries_content BEFORE UPDATE ON {s}.entries FOR EACH ROW "
        f"EXECUTE FUNCTION {s}.softclock_check_content()"
    )
    conn.exec_driver_sql(
        f"CREATE TRIGGER entries_history AFTER UPDATE ON {s}.entries FOR EACH ROW "
        f"EXECUTE FUNCTION {s}.softclock_keep_history()"
    )
    conn.exec_driver_sql(
        f"CREATE TRIGGER entries_added AFTER INSERT ON {s}.entries REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.softclock_entries_added()"
    )


def uninstall_v3(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        return
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    s = conn.dialect.identifier_preparer.quote_identifier(schema)
    conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {s}.softclock_entries_added() CASCADE")
    for name, when, function in _V2_TRIGGERS[:2]:
        conn.exec_driver_sql(f"DROP TRIGGER {name} ON {s}.entries")
        conn.exec_driver_sql(f"CREATE TRIGGER {name} {when.format(s=s)} EXECUTE FUNCTION {s}.{function}()")
