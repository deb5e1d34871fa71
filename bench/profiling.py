"""Optional pyinstrument profiles of the measured phases (``run.py --profile``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyinstrument import Profiler

INTERVAL = 0.0001  # 0.1 ms: idle ticks are short


class Profiles:
    """One profiler per phase; a phase may be entered many times (sessions add up)."""

    def __init__(self, directory: Path | None, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self.profilers: dict[str, Profiler] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if self.directory is None:
            yield
            return
        profiler = self.profilers.setdefault(name, Profiler(interval=INTERVAL))
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()

    def write(self) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, profiler in self.profilers.items():
            text = profiler.output_text(unicode=False, color=False, show_all=False)
            (self.directory / f"{self.prefix}-{name}.txt").write_text(text)
