"""What the finance offices read: figures, breakdowns, drill-down, exports and monthly reports.

Named `stats`, not `statistics`: a top-level `statistics` package would hide the standard library's module
of that name from every import that runs after the repository root is put on `sys.path` (our own benches
use `statistics.median`).
"""
