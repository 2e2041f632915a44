"""Notes and what people do with them: publishing, editing, likes, comments, albums and
collects, shares."""
