"""Administration: platform statistics and running the periodic jobs on demand."""
