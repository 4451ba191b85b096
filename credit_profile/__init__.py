"""Borrowers, consents, authorised data records, features, scorecards and scores."""
