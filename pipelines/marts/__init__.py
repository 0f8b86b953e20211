"""The marts as a library: one registry of what each mart is (registry), where it is computed
(engines: DuckDB or Spark), how a step runs them (runner) and the checks that guard them (checks).
Dagster's view of them lives in pipelines/defs/marts.py and derives from the registry.
"""
