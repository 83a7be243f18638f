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
that changes them adds a ``*_v2`` rather than editing these.
"""

from __future__ import annotations

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
    conn.execute(text(
        "CREATE TABLE IF NOT EXISTS softclock_change_counter "
        "(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)"
    ))
    conn.execute(text("INSERT OR IGNORE INTO softclock_change_counter (id, value) VALUES (1, 0)"))
    for table, key in _REF_KEYS.items():
        bump = _sqlite_bump(table, key)
        conn.execute(text(f"CREATE TRIGGER IF NOT EXISTS {table}_change_ins AFTER INSERT ON {table} BEGIN {bump} END"))
        conn.execute(text(
            f"CREATE TRIGGER IF NOT EXISTS {table}_change_upd AFTER UPDATE ON {table} "
            f"WHEN NEW.change_seq IS OLD.change_seq BEGIN {bump} END"
        ))
    conn.execute(text(
        "CREATE TRIGGER IF NOT EXISTS entries_invoiced AFTER UPDATE OF status ON entries "
        "WHEN NEW.status = 'invoiced' AND OLD.status IS NOT 'invoiced' BEGIN " + _sqlite_bump("entries", "id") + " END"
    ))
    conn.execute(text(
        "CREATE TRIGGER IF NOT EXISTS entries_keep_version BEFORE UPDATE ON entries "
        "WHEN NEW.version < OLD.version OR (OLD.status = 'invoiced' AND NEW.status <> 'invoiced') BEGIN "
        "SELECT RAISE(ABORT, 'an older entry version never overwrites a newer one, and invoiced stays invoiced'); END"
    ))


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
