"""What every domain shares: settings, extensions, errors, routing and pagination, the
OpenAPI document, policies, visibility, jobs and the outbox, state shared between processes.
Core reads domain models where a rule needs them; it never imports a domain's services or
handlers."""
