"""Search: the backend protocol and its embedded and Elasticsearch implementations, text
analysis, the search use cases and indexing jobs."""
