"""User lifecycle: stages (new, active, at risk, churned, returned), recall campaigns with a
holdout, retention cohorts."""
