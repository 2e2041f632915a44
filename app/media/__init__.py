"""Uploads and images: the Pillow pipeline, creative edits, text covers, storage backends."""
