"""The path users give Celery beat: ``celery -A proj beat -S djag.scheduler:DjagScheduler``."""

from djag.beat.scheduler import DjagScheduler

__all__ = ["DjagScheduler"]
