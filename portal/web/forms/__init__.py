"""The page forms, one module per blueprint (`fields` holds what they share)."""
