"""Topics (#hashtags): pages, follows' counts, curation."""
