"""Moderation: reports, cases, filters, penalties, appeals and the audit log (issue 6).

So far: `text_filter`, the evasion-resistant keyword and contact-detail matching that new
accounts' notes and every comment will pass through."""
