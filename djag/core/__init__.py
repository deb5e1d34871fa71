"""Pure scheduling logic: plain data in, decisions out; no Django, Celery, I/O or clock."""
