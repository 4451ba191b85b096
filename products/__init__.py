"""Institutions and their loan products; eligibility rules are data."""
