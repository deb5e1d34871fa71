"""The djag sample site: a Django project with a Celery app and a small demo DAG."""

from .celery import app as celery_app

__all__ = ["celery_app"]
