"""djag_graph: the DAG as DOT or Mermaid text."""

from __future__ import annotations

import pytest

from .conftest import edge, run, task

pytestmark = pytest.mark.django_db


@pytest.fixture
def dag() -> None:
    producer, consumer, report = task("producer"), task("consumer"), task("report")
    old = task('old "v1" export', enabled=False)
    edge(consumer, producer)
    edge(producer, consumer, future_depends=True)
    edge(report, consumer, require_success=False)
    edge(old, report, future_depends=True, require_success=False)


def ids() -> dict[str, str]:
    from djag.models import PeriodicTask

    return {name: f"t{pk}" for pk, name in PeriodicTask.objects.values_list("pk", "name")}


def test_dot_draws_each_kind_of_edge_from_dependee_to_depender(dag):
    text = run("djag_graph")
    t = ids()
    assert text.startswith("// djag tasks")
    assert "digraph djag {" in text
    assert f'{t["producer"]} [label="producer"];' in text
    assert f"{t['producer']} -> {t['consumer']};" in text
    assert f'{t["consumer"]} -> {t["producer"]} [style=dashed, label="future"];' in text
    assert f'{t["consumer"]} -> {t["report"]} [label="any result"];' in text
    old = t['old "v1" export']
    assert f'{t["report"]} -> {old} [style=dashed, label="future, any result"];' in text
    assert f'{old} [label="old \\"v1\\" export\\n(disabled)", style="rounded,dashed"' in text
    assert text.rstrip().endswith("}")


def test_dot_lists_dependees_before_dependers(dag):
    text = run("djag_graph", "--format", "dot")
    t = ids()
    positions = [text.index(f"  {t[name]} [") for name in ("producer", "consumer", "report")]
    assert positions == sorted(positions)


def test_mermaid_draws_the_same_graph(dag):
    text = run("djag_graph", "--format", "mermaid")
    t = ids()
    lines = text.splitlines()
    assert lines[1] == "flowchart LR"
    assert f'  {t["producer"]}["producer"]' in lines
    assert f"  {t['producer']} --> {t['consumer']}" in lines
    assert f'  {t["consumer"]} -.->|"future"| {t["producer"]}' in lines
    assert f'  {t["consumer"]} -->|"any result"| {t["report"]}' in lines
    old = t['old "v1" export']
    assert f'  {old}["old #quot;v1#quot; export (disabled)"]:::disabled' in lines
    assert lines[-1].startswith("  classDef disabled")


def test_a_task_without_dependencies_is_still_a_node(db):
    alone = task("alone")
    assert f'  t{alone.pk}["alone"]' in run("djag_graph", "--format", "mermaid").splitlines()


def test_an_empty_schedule_is_an_empty_graph(db):
    assert run("djag_graph").splitlines()[-1] == "}"


def test_an_unknown_format_is_refused(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="invalid choice: 'svg'"):
        run("djag_graph", "--format", "svg")
