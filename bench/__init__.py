"""The pytest suite (verification and benchmark cases) and the small harness it needs."""
