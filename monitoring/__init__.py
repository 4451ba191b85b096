"""Post-loan monitoring: signals from the data a borrower consented to for 贷后监测, rules kept as data,
early warnings routed to the claiming officer, and how well each rule foretold the loans that went bad."""
