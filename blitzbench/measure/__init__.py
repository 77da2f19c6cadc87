"""Building, checking and timing benchmark cases (imports torch)."""
