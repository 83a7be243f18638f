"""Reports, exports and the PBX record import: the pure, database-independent core.

* :mod:`softclock.reports.cdr`: a PBX's own call records (Asterisk ``cdr_csv``,
  FreeSWITCH ``mod_cdr_csv``, Kamailio ``acc``) -> :class:`~softclock.reports.cdr.PbxCall`.
* :mod:`softclock.reports.ledes`: LEDES 1998B invoices, written and checked.
* :mod:`softclock.reports.csv_export`: time entries as CSV for billing systems.

Nothing here opens a database, imports SQLAlchemy or Qt: callers (the CLI, the
central store's import and export commands) hand in plain values and get plain
values or text back.
"""
