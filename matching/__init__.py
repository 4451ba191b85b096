"""Financing needs, the matching engine, leads, status changes, loans and statistics."""
