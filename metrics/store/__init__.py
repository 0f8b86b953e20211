"""Where the data lives and how it is opened: DuckDB connections (time zone, lock retries, always
closed), the published snapshot's read-only attach, the Spark session, atomic file writes and SQL
quoting. The formulas in `metrics/` never open anything themselves; this package does.
"""
