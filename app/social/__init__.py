"""Following people and topics; followers and following lists."""
