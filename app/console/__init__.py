"""The staff console: server-rendered pages for moderators, editors and admins under
`/console/`, over the same services as the JSON API (the rules live there, not here)."""
