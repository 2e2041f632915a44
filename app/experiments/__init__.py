"""Feed experiments: viewers assigned deterministically to arms (blend configurations),
impressions tagged with the arm, engagement per impression reported with intervals."""
