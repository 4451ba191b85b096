"""The monthly report's sections by theme; stats.monthly assembles them."""
