"""The growth system: points ledger, levels, privileges, check-ins, tasks, campaigns, store."""
