"""Use cases of the notes domain, one module per resource."""
