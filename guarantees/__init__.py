"""Government credit enhancement: guarantee and re-guarantee schemes, risk-compensation funds, covers on
loans with their loss waterfall, and bridge funds (续贷周转金) for renewals."""
