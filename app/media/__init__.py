"""Image pipeline (pure Pillow) and storage backends (local disk, S3)."""
