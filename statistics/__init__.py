"""What the finance offices read: figures, breakdowns, drill-down, exports and monthly reports.

The package shadows the standard library's `statistics` module wherever the repository root is on
`sys.path` (every entry point: flask, gunicorn, rq through flask, pytest); no dependency of the
project imports the standard one.
"""
