"""Read-only answers from the rows: why a task waits, beat health, checks, plans."""
