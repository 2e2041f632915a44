"""Feeds: the card read model, the discover session, following, hot and related notes,
and the jobs that keep the ranking's signals fresh.

Imports go one way, top to bottom:
- `api` (handlers);
- `discover` (the session: buffers, serving, feedback; it asks `ahead` for a viewer's next
  pages and enqueues `jobs.flush_impressions`), `following`;
- `jobs` (thin: each calls one service below), `ahead` (the worker's ranking thread and the
  Redis list it takes requests from);
- `ranker` (runs the pipeline for a page or for pages ahead), `hot`, `related`,
  `impressions`, `cards`;
- `state` (`FeedsState`: tunables and this process's caches, `feeds_state()`), `caches`,
  `ranking_data` (rows → plain data for `ranking/`), `config` (`FeedsConfig`), `models`.
`app.schedule` lists the periodic jobs and imports `jobs`; nothing in feeds imports it.
"""
