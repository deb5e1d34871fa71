"""Side-by-side benchmarks of djag, django-celery-beat and celery-redbeat (``make bench``)."""
