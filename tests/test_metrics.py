"""Beat's Prometheus metrics: served on a port of their own, read back with
prometheus_client's own parser; the stand-in that records nothing when they are off."""

from __future__ import annotations

import json
import logging
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
import pytest
import yaml
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from djag.beat import metrics
from djag.beat.metrics import Metrics, PrometheusMetrics
from tests.e2e.conftest import free_port

FAMILIES = {
    "djag_beat_leader": "gauge",
    "djag_tick_lag_seconds": "gauge",
    "djag_due_backlog": "gauge",
    "djag_runs": "counter",
    "djag_run_duration_seconds": "histogram",
    "djag_tasks_with_problem": "gauge",
    "djag_last_success_timestamp_seconds": "gauge",
}


@pytest.fixture
def served() -> Iterator[tuple[PrometheusMetrics, str]]:
    """Metrics served on a free port of 127.0.0.1, and their URL."""
    served = PrometheusMetrics()
    port = served.serve(0, "127.0.0.1")
    yield served, f"http://127.0.0.1:{port}/metrics"
    served.close()


def scrape(url: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """``{family: {(sample name, labels): value}}`` as Prometheus would read the page."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(text)
    }


def test_every_family_is_served_with_its_type(served: tuple[PrometheusMetrics, str]) -> None:
    _, url = served
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    types = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert types == FAMILIES


def test_what_the_engine_reports_is_served(served: tuple[PrometheusMetrics, str]) -> None:
    recorder, url = served
    recorder.tick(lag=0.25, backlog=3, leading=True)
    recorder.problems(2)
    recorder.run_finished("import sales", "success", duration=1.5, finished_at=1_772_452_800.0)
    recorder.run_finished("import sales", "failure", duration=40.0, finished_at=1_772_452_900.0)
    recorder.run_finished("report", "skipped", duration=None, finished_at=None)
    recorder.run_finished("report", "lost", duration=None, finished_at=1_772_453_000.0)

    page = scrape(url)
    assert page["djag_beat_leader"] == {("djag_beat_leader", ()): 1.0}
    assert page["djag_tick_lag_seconds"] == {("djag_tick_lag_seconds", ()): 0.25}
    assert page["djag_due_backlog"] == {("djag_due_backlog", ()): 3.0}
    assert page["djag_tasks_with_problem"] == {("djag_tasks_with_problem", ()): 2.0}
    runs = {
        labels: value
        for (name, labels), value in page["djag_runs"].items()
        if name == "djag_runs_total"
    }
    assert runs == {
        (("state", "success"),): 1.0,
        (("state", "failure"),): 1.0,
        (("state", "skipped"),): 1.0,
        (("state", "lost"),): 1.0,
    }
    durations = page["djag_run_duration_seconds"]
    task = (("task", "import sales"),)
    assert durations["djag_run_duration_seconds_count", task] == 2.0
    assert durations["djag_run_duration_seconds_sum", task] == 41.5
    assert durations["djag_run_duration_seconds_bucket", (("le", "2.5"), *task)] == 1.0
    assert durations["djag_run_duration_seconds_bucket", (("le", "60.0"), *task)] == 2.0
    assert not any(labels == (("task", "report"),) for _, labels in durations)  # never started
    # Only a success sets the last success, and only for its task.
    assert page["djag_last_success_timestamp_seconds"] == {
        ("djag_last_success_timestamp_seconds", task): 1_772_452_800.0
    }


def test_a_standby_beat_reports_zero(served: tuple[PrometheusMetrics, str]) -> None:
    recorder, url = served
    recorder.tick(lag=0.0, backlog=0, leading=True)
    recorder.tick(lag=0.1, backlog=0, leading=False)
    assert scrape(url)["djag_beat_leader"] == {("djag_beat_leader", ()): 0.0}


def test_a_forgotten_task_leaves_the_page(served: tuple[PrometheusMetrics, str]) -> None:
    recorder, url = served
    recorder.run_finished("gone", "success", duration=1.0, finished_at=100.0)
    recorder.run_finished("kept", "success", duration=1.0, finished_at=100.0)
    recorder.forget_task("gone")
    recorder.forget_task("never seen")
    page = scrape(url)
    tasks = {dict(labels).get("task") for _, labels in page["djag_run_duration_seconds"]}
    assert tasks == {"kept"}
    assert [dict(labels)["task"] for _, labels in page["djag_last_success_timestamp_seconds"]] == [
        "kept"
    ]


def test_the_families_live_on_a_registry_of_their_own() -> None:
    PrometheusMetrics().tick(lag=1.0, backlog=1, leading=True)
    PrometheusMetrics()  # a second beat in the same process (tests) registers again
    assert b"djag_" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


def test_close_stops_serving(served: tuple[PrometheusMetrics, str]) -> None:
    recorder, url = served
    recorder.close()
    with pytest.raises(urllib.error.URLError, match="Connection refused"):
        urllib.request.urlopen(url, timeout=5)
    recorder.close()  # twice is harmless


# --- from the settings ------------------------------------------------------------------------


def test_no_port_gives_the_stand_in() -> None:
    recorder = metrics.from_settings()
    assert type(recorder) is Metrics
    recorder.tick(lag=1.0, backlog=1, leading=True)  # records nothing, raises nothing
    recorder.run_finished("t", "success", 1.0, 1.0)
    recorder.problems(1)
    recorder.forget_task("t")
    recorder.close()


@override_settings(DJAG_METRICS_PORT="9808")
def test_a_bad_port_gives_the_stand_in() -> None:
    assert type(metrics.from_settings()) is Metrics


def test_the_port_setting_serves() -> None:
    port = free_port()
    with override_settings(DJAG_METRICS_PORT=port, DJAG_METRICS_ADDRESS="127.0.0.1"):
        recorder = metrics.from_settings()
    try:
        assert isinstance(recorder, PrometheusMetrics)
        recorder.problems(4)
        page = scrape(f"http://127.0.0.1:{port}/metrics")
        assert page["djag_tasks_with_problem"] == {("djag_tasks_with_problem", ()): 4.0}
    finally:
        recorder.close()


def test_a_port_in_use_is_logged_and_beat_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="djag.beat")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with override_settings(DJAG_METRICS_PORT=port, DJAG_METRICS_ADDRESS="127.0.0.1"):
            recorder = metrics.from_settings()
    assert type(recorder) is Metrics
    assert f"cannot serve metrics on 127.0.0.1:{port}" in caplog.text


def test_without_prometheus_client_the_stand_in_is_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="djag.beat")
    monkeypatch.setattr(metrics, "prometheus_client", None)
    with override_settings(DJAG_METRICS_PORT=free_port()):
        assert type(metrics.from_settings()) is Metrics
    assert "prometheus_client is not installed (pip install 'djag[metrics]')" in caplog.text
    with pytest.raises(RuntimeError, match="djag\\[metrics\\]"):
        PrometheusMetrics()


# --- the docs' PromQL names only what is served ------------------------------------------------


def docs_blocks(language: str) -> list[str]:
    page = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", page, flags=re.DOTALL)


def test_the_docs_queries_name_served_series(served: tuple[PrometheusMetrics, str]) -> None:
    recorder, url = served
    recorder.run_finished("t", "success", duration=1.0, finished_at=1.0)
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    names = {family.name for family in text_string_to_metric_families(text)} | {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    (dashboard,) = docs_blocks("json")
    configs = [yaml.safe_load(block) for block in docs_blocks("yaml")]
    assert json.loads(dashboard)["panels"]
    assert configs[1]["groups"][0]["rules"]
    used = set(re.findall(r"djag_[a-z_]+", dashboard + "".join(docs_blocks("yaml"))))
    assert "djag_last_success_timestamp_seconds" in used
    assert used <= names, used - names
