"""Request and response schemas of the notes domain, one module per resource."""
