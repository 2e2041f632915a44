"""Cold-start content (PGC packs) and the idempotent loader."""
