"""HTTP handlers of the notes domain, one module per resource."""
