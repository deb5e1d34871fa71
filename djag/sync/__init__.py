"""Schedules as code: files and modules declared in code, synced into the database."""
