"""Shared kernel: declarative base, session factory, column types, settings, reference data."""
