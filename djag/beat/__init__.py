"""Celery beat's side of djag: the scheduler shell, the engine, the lease and the publisher."""
