"""Editorial: picks, boosts, content sources and the editorial log."""
