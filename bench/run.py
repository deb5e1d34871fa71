"""The benchmark orchestrator: ``python -m bench.run --sizes 1000,10000 --repeat 3``.

``python -m bench.run burst|claims|checkpoints|worker ...`` runs one of the
focused suites of ``SUITES`` instead (see their modules).

For every size N and every side (djag, django-celery-beat, celery-redbeat) it
runs ``python -m bench.child prepare`` then ``measure`` in fresh processes, each
measurement on a database (or Redis database) of its own, and collects the JSON
figures they print. It then prints a table of medians with the ratios
djag/peer, and writes ``results.json``, ``table.md`` and ``scaling.png`` (cost
against N, log-log) to ``--out``.

A peer whose burst would take longer than ``--peer-limit`` seconds is stopped
after a short probe and reported as skipped, with the projected time; at larger
sizes it is then skipped without running (the same for a peer whose setup,
scaled linearly from a smaller size, would pass the limit).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
#: The Redis database bursts are published to, and flushed after each (BENCH_REDIS_BROKER_URL).
REDIS_BROKER_URL = os.environ.get("BENCH_REDIS_BROKER_URL", "redis://127.0.0.1:6379/14")
SIDES = ("djag", "celery-beat", "redbeat")
PEERS = ("celery-beat", "redbeat")
LABELS = {"djag": "djag", "celery-beat": "django-celery-beat", "redbeat": "celery-redbeat"}
COLORS = {"djag": "C0", "celery-beat": "C2", "redbeat": "C3"}
#: A peer's burst that took longer than this is not repeated (its figure is one run).
SLOW_REPEAT_S = 30.0


@dataclass(frozen=True)
class Case:
    """One measurement: a side, a workload kind, a size and its options."""

    side: str
    kind: str  # "steady" or "burst"
    n: int
    dag: bool = False
    publish: str = "count"  # djag's burst: "count", "memory" or "broker"

    @property
    def key(self) -> str:
        name = f"{self.side}-{self.kind}-{self.n}"
        if self.dag:
            name += "-dag"
        if self.kind == "burst" and self.side == "djag":
            name += f"-{self.publish}"
        return name


@dataclass
class Outcome:
    runs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- running the children ------------------------------------------------------------------


class Databases:
    """A fresh database per measurement: an SQLite file, or a PostgreSQL database recreated."""

    def __init__(self, kind: str, out: Path, pg_url: str) -> None:
        self.kind = kind
        self.out = out
        self.pg_url = pg_url

    def fresh(self, name: str) -> str:
        if self.kind == "sqlite":
            path = self.out / "db" / f"{name}.sqlite3"
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return f"sqlite:///{path}"
        import psycopg  # only needed for PostgreSQL

        # --pg-url .../NAME: NAME is the benchmark database (dropped and re-created), so
        # that benchmarks run side by side do not share one; .../postgres: "djag_bench".
        base, _, named = self.pg_url.rpartition("/")
        database = named if named not in ("", "postgres") else "djag_bench"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {database}")
        return f"{base}/{database}"

    def drop(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def child(step: str, case: Case, env: dict[str, str], extra: list[str], timeout: float) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.child",
        step,
        "--side",
        case.side,
        "--kind",
        case.kind,
        "--n",
        str(case.n),
        "--publish",
        case.publish,
        *extra,
    ]
    if case.dag:
        command.append("--dag")
    done = subprocess.run(
        command,
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[2:])} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(command[2:])} printed no figures:\n{done.stdout[-2000:]}")
    result: dict = json.loads(lines[-1])
    return result


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: Path = args.out
        self.databases = Databases(args.db, self.out, args.pg_url)
        self.broker = "memory://" if args.broker == "memory" else args.redis_broker_url
        self.outcomes: dict[str, Outcome] = {}
        self.log = (self.out / "run.log").open("a")

    def say(self, text: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def measure(self, case: Case, repeat: int) -> Outcome:
        outcome = self.outcomes.setdefault(case.key, Outcome())
        skip = self.skip_reason(case)
        if skip:
            outcome.notes.append(skip)
            self.say(f"{case.key}: skipped, {skip}")
            return outcome
        for rep in range(repeat):
            url = self.databases.fresh(f"{case.key}-{rep}")
            env = {
                **os.environ,
                "BENCH_DATABASE_URL": url,
                "BENCH_BROKER_URL": self.broker,
                "BENCH_REDIS_URL": self.args.redbeat_url,
                "PYTHONHASHSEED": "0",
            }
            extra = [
                "--edits",
                str(self.args.edits),
                "--idle-seconds",
                str(self.args.idle_seconds),
                "--peer-idle-seconds",
                str(self.args.peer_idle_seconds),
                "--limit",
                str(self.args.peer_limit),
            ]
            if self.args.profile and case.side == "djag":
                extra += ["--profile-dir", str(self.out / "profiles")]
            started = time.monotonic()
            try:
                child("prepare", case, env, extra, timeout=3600)
                prepared = time.monotonic()
                result = child("measure", case, env, extra, timeout=3 * self.args.peer_limit + 600)
            except subprocess.TimeoutExpired as exc:
                note = f"timed out after {exc.timeout:.0f} s"
                outcome.notes.append(note)
                self.say(f"{case.key} #{rep + 1}: {note}")
                break
            except RuntimeError as exc:  # a failed run is noted; the others still count
                last = str(exc).strip().splitlines()[-1]
                outcome.notes.append(f"run {rep + 1} failed: {last}")
                self.say(f"{case.key} #{rep + 1}: FAILED\n{exc}")
                continue
            finally:
                self.databases.drop(url)
            result["prepare_wall_s"] = prepared - started
            result["measure_wall_s"] = time.monotonic() - prepared
            outcome.runs.append(result)
            self.say(f"{case.key} #{rep + 1}: {summary(case, result)}")
            if result.get("skipped"):
                outcome.notes.append(result["skipped"])
                break
            slow = result["measure_wall_s"] > SLOW_REPEAT_S
            if case.side != "djag" and slow and rep < repeat - 1:
                outcome.notes.append(f"one run only (it took {result['measure_wall_s']:.0f} s)")
                break
        return outcome

    def skip_reason(self, case: Case) -> str | None:
        """A peer is skipped at N when a smaller size shows that it would pass the limit."""
        if case.side == "djag":
            return None
        limit = self.args.peer_limit
        for key, previous in self.outcomes.items():
            n = _size_of(key, case)
            if n is None or n >= case.n:
                continue
            for run in previous.runs:
                if run.get("skipped"):
                    return f"already over the {limit:.0f} s limit at N={n:,}"
                figure = run.get("burst_s") if case.kind == "burst" else run.get("setup_s")
                if figure is not None and figure * case.n / n > limit:
                    return (
                        f"would take about {figure * case.n / n / 60:.0f} min "
                        f"(scaled from {figure:.1f} s at N={n:,})"
                    )
            if previous.notes and not previous.runs:
                return f"skipped at N={n:,}"
        return None


def _size_of(key: str, case: Case) -> int | None:
    """The size in ``key`` when it is the same side and kind as ``case``, else None."""
    prefix = f"{case.side}-{case.kind}-"
    if not key.startswith(prefix):
        return None
    rest = key.removeprefix(prefix)
    return int(rest) if rest.isdigit() else None


def summary(case: Case, result: dict) -> str:
    if case.kind == "burst":
        if result.get("skipped"):
            return f"skipped: {result['skipped']}"
        return f"{result['sent']:,} sent in {result['burst_s']:.3f} s"
    idle = result["idle"]
    text = f"setup {result['setup_s']:.3f} s, {result['peak_mb']:.0f} MB, idle {idle['ms']:.3f} ms"
    if result.get("pickup"):
        latencies = [p["latency_s"] for p in result["pickup"]]
        text += f", pickup {statistics.median(latencies):.2f} s"
    return text


# -- the plan -------------------------------------------------------------------------------


def plan(sizes: Iterable[int], sides: Iterable[str], publish: str, dag: bool) -> list[Case]:
    cases = []
    sides = list(sides)
    for n in sizes:
        for side in sides:
            cases.append(Case(side, "steady", n))
            if side == "djag" and dag:
                cases.append(Case(side, "steady", n, dag=True))
        for side in sides:
            if side == "djag":
                cases.append(Case(side, "burst", n, publish="count"))
                cases.append(Case(side, "burst", n, publish=publish))
                if dag:
                    cases.append(Case(side, "burst", n, dag=True, publish="count"))
            else:
                cases.append(Case(side, "burst", n))
    return cases


# -- figures --------------------------------------------------------------------------------


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    kind: str
    get: Callable[[dict], float | None]
    digits: int = 3
    pooled: Callable[[dict], list[float]] | None = None  # several samples per run


def _idle(name: str) -> Callable[[dict], float | None]:
    def get(run: dict) -> float | None:
        value = run.get("idle", {}).get(name)
        return None if value is None else float(value)

    return get


def _pickup(name: str) -> Callable[[dict], list[float]]:
    return lambda run: [float(p[name]) for p in run.get("pickup", [])]


METRICS = [
    Metric("setup time", "s", "steady", lambda r: r.get("setup_s")),
    Metric("setup peak RSS", "MB", "steady", lambda r: r.get("peak_mb"), 0),
    Metric("idle tick, mean", "ms", "steady", _idle("ms")),
    Metric("DB queries per idle tick", "", "steady", _idle("queries"), 2),
    Metric("max DB queries in an idle tick", "", "steady", _idle("max_queries"), 0),
    Metric("Redis commands per idle tick", "", "steady", _idle("redis_commands"), 1),
    Metric(
        "change pickup latency",
        "s",
        "steady",
        lambda r: None,
        2,
        pooled=_pickup("latency_s"),
    ),
    Metric("change pickup tick", "ms", "steady", lambda r: None, 1, pooled=_pickup("ms")),
    Metric(
        "DB queries of the pickup tick", "", "steady", lambda r: None, 0, pooled=_pickup("queries")
    ),
    Metric("burst, all due at once", "s", "burst", lambda r: r.get("burst_s")),
    Metric(
        "DB queries of the burst",
        "",
        "burst",
        lambda r: None if r.get("skipped") else r.get("burst_queries"),
        0,
    ),
]


def figure(metric: Metric, outcome: Outcome | None) -> float | None:
    if outcome is None or not outcome.runs:
        return None
    if metric.pooled is not None:
        return median(v for run in outcome.runs for v in metric.pooled(run))
    return median(metric.get(run) for run in outcome.runs)


def fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    if value != 0 and abs(value) < 10**-digits:
        return f"{value:.2g}"
    return f"{value:,.{digits}f}"


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "-"
    value = ours / theirs
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _projected(outcome: Outcome | None) -> float | None:
    if outcome is None:
        return None
    return median(run.get("projected_s") for run in outcome.runs)


def _idle_split(outcomes: dict[str, Outcome], n: int, sides: list[str], peers: list[str]) -> list:
    """djag's idle ticks of each kind: wake-up key checks (0.5 s) and database polls (5 s)."""
    outcome = outcomes.get(Case("djag", "steady", n).key)
    if outcome is None or not outcome.runs:
        return []
    rows = []
    for part, label in (("check", "wake-up key check"), ("poll", "database poll")):
        ms = median(run["idle"][part]["ms"] for run in outcome.runs)
        queries = median(run["idle"][part]["queries"] for run in outcome.runs)
        top = max(run["idle"][part]["max_queries"] or 0 for run in outcome.runs)
        text = f"{fmt(ms, 3)} ms, {fmt(queries, 2)} queries (max {top})"
        row = [f"{n:,}", f"djag idle tick: {label}", text]
        row += ["" for _ in sides[1:]] + ["" for _ in peers]
        rows.append("| " + " | ".join(row) + " |")
    return rows


def table(outcomes: dict[str, Outcome], sizes: list[int], sides: list[str], publish: str) -> str:
    peers = [s for s in sides if s != "djag"]
    head = ["N", "figure", *[LABELS[s] for s in sides]]
    head += [f"djag/{LABELS[p]}" for p in peers if "djag" in sides]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes: list[str] = []
    for n in sizes:
        for metric in METRICS:
            values = {
                side: figure(metric, outcomes.get(Case(side, metric.kind, n).key)) for side in sides
            }
            if all(v is None for v in values.values()):
                continue
            label = metric.label + (f" ({metric.unit})" if metric.unit else "")
            cells = {s: fmt(values[s], metric.digits) for s in sides}
            ratios = {p: ratio(values["djag"], values[p]) for p in peers if "djag" in values}
            if metric is METRICS[9]:  # a burst stopped early shows its projection
                for side in sides:
                    projected = _projected(outcomes.get(Case(side, "burst", n).key))
                    if values[side] is None and projected is not None:
                        cells[side] = f"~{projected:,.0f} (projected)"
                        if side in ratios:
                            ratios[side] = "~" + ratio(values["djag"], projected)
            row = [f"{n:,}", label, *[cells[s] for s in sides]]
            if "djag" in sides:
                row += [ratios[p] for p in peers]
            lines.append("| " + " | ".join(row) + " |")
            if metric is METRICS[3] and "djag" in sides:
                lines += _idle_split(outcomes, n, sides, peers)
        if "djag" in sides:
            extra = [
                (
                    f"burst, claimed and published to the {publish} transport (s)",
                    Case("djag", "burst", n, publish=publish),
                    METRICS[9],
                ),
                (
                    "with 100 dependency edges: setup time (s)",
                    Case("djag", "steady", n, dag=True),
                    METRICS[0],
                ),
                (
                    "with 100 dependency edges: idle tick (ms)",
                    Case("djag", "steady", n, dag=True),
                    METRICS[2],
                ),
                (
                    "with 100 dependency edges: DB queries per idle tick",
                    Case("djag", "steady", n, dag=True),
                    METRICS[3],
                ),
                (
                    "with 100 dependency edges: change pickup tick (ms)",
                    Case("djag", "steady", n, dag=True),
                    METRICS[7],
                ),
                (
                    "with 100 dependency edges: burst (s)",
                    Case("djag", "burst", n, dag=True),
                    METRICS[9],
                ),
            ]
            for label, case, metric in extra:
                if publish == "count" and case.kind == "burst" and not case.dag:
                    continue
                value = figure(metric, outcomes.get(case.key))
                if value is None:
                    continue
                row = [f"{n:,}", f"djag {label}", fmt(value, metric.digits)]
                row += ["" for _ in sides[1:]] + ["" for _ in peers]
                lines.append("| " + " | ".join(row) + " |")
        for side in sides:
            for kind in ("steady", "burst"):
                outcome = outcomes.get(Case(side, kind, n).key)
                if outcome is None:
                    continue
                runs = len(outcome.runs)
                for note in dict.fromkeys(outcome.notes):
                    notes.append(f"N={n:,}, {LABELS[side]}, {kind}: {note} ({runs} run(s) kept)")
    text = "\n".join(lines)
    if notes:
        text += "\n\nNotes:\n" + "\n".join(f"- {note}" for note in notes)
    return text


def plot(
    outcomes: dict[str, Outcome], sizes: list[int], sides: list[str], publish: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("Setup (load + first tick)", METRICS[0], "s"),
        ("Idle tick, mean", METRICS[2], "ms"),
        ("Burst of N due runs", METRICS[9], "s"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.6))
    for ax, (title, metric, unit) in zip(axes, panels, strict=True):
        for side in sides:
            points = [
                (n, figure(metric, outcomes.get(Case(side, metric.kind, n).key))) for n in sizes
            ]
            xs = [n for n, v in points if v is not None]
            ys = [v for _, v in points if v is not None]
            if xs:
                ax.plot(xs, ys, marker="o", label=LABELS[side], color=COLORS[side])
            if side != "djag":
                continue
            variants = [("djag, 100 edges", True, "count")]
            if metric.kind == "burst" and publish != "count":
                variants.append((f"djag, published ({publish})", False, publish))
            for label, dag, how in variants:
                extra = [
                    (n, figure(metric, outcomes.get(Case(side, metric.kind, n, dag, how).key)))
                    for n in sizes
                ]
                dxs = [n for n, v in extra if v is not None]
                dys = [v for _, v in extra if v is not None]
                if dxs:
                    color = "C1" if dag else "C4"
                    ax.plot(dxs, dys, marker="x", linestyle="--", label=label, color=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("N tasks")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle("Cost against the number of tasks (medians; lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N")
    parser.add_argument("--sides", default=",".join(SIDES), help="djag,celery-beat,redbeat")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL database to connect to, to (re)create the benchmark database",
    )
    parser.add_argument("--broker", choices=("memory", "redis"), default="memory")
    parser.add_argument("--redis-broker-url", default=REDIS_BROKER_URL)
    parser.add_argument(
        "--redbeat-url",
        default="redis://127.0.0.1:6379/12",
        help="celery-redbeat's own Redis database, flushed (not 13: the e2e tests flush it)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dag", dest="dag", action="store_false", help="skip djag+100 edges")
    parser.add_argument("--edits", type=int, default=3, help="change pickup rounds per run")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="djag: simulated")
    parser.add_argument("--peer-idle-seconds", type=float, default=3.0, help="peers: real")
    parser.add_argument("--peer-limit", type=float, default=120.0, help="seconds per peer burst")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles of djag")
    parser.add_argument("--out", type=Path, default=BASE_DIR / "var" / "bench")
    parser.add_argument(
        "--report",
        type=Path,
        nargs="+",
        metavar="RESULTS",
        help="run nothing: merge these results-*.json into one table and plot in --out",
    )
    args = parser.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    args.side_list = [s for s in args.sides.split(",") if s]
    unknown = set(args.side_list) - set(SIDES)
    if unknown:
        parser.error(f"unknown sides: {', '.join(sorted(unknown))}")
    return args


def report(args: argparse.Namespace) -> None:
    """Merge earlier results (e.g. all sides at 1k-10k and djag alone at 100k)."""
    outcomes: dict[str, Outcome] = {}
    sizes: set[int] = set()
    sides: set[str] = set()
    publish = "count"
    for path in args.report:
        results = json.loads(path.read_text())
        sizes |= set(results["args"]["size_list"])
        sides |= set(results["args"]["side_list"])
        publish = "memory" if results["args"]["broker"] == "memory" else "broker"
        for key, case in results["cases"].items():
            notes = case["notes"]
            if len(case["runs"]) > 1:  # an early version noted this after the last run too
                notes = [note for note in notes if not note.startswith("one run only")]
            outcomes[key] = Outcome(case["runs"], notes)
    size_list = sorted(sizes)
    side_list = [s for s in SIDES if s in sides]
    text = table(outcomes, size_list, side_list, publish)
    (args.out / "table-merged.md").write_text(text + "\n")
    plot(outcomes, size_list, side_list, publish, args.out / "scaling-merged.png")
    print(text)
    print(f"\nwritten to {args.out} (*-merged.*)")


#: ``python -m bench.run SUITE ...`` runs one of these instead (each has its own --help).
SUITES = {
    "burst": "bench.burst",
    "claims": "bench.claims",
    "checkpoints": "bench.checkpoints",
    "worker": "bench.worker_side",
    "sigterm": "bench.sigterm",
    "million": "bench.million",
    "idle": "bench.idle",
    "publishing": "bench.publishing",
}


def main(argv: list[str] | None = None) -> None:
    given = sys.argv[1:] if argv is None else argv
    if given and given[0] in SUITES:
        importlib.import_module(SUITES[given[0]]).main(given[1:])
        return
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        report(args)
        return
    runner = Runner(args)
    publish = "memory" if args.broker == "memory" else "broker"
    cases = plan(args.size_list, args.side_list, publish, args.dag)
    runner.say(
        f"bench: sizes {args.sizes}, sides {args.sides}, {args.db}, broker {args.broker}, "
        f"repeat {args.repeat}: {len(cases)} cases"
    )
    started = time.monotonic()
    for case in cases:
        try:
            runner.measure(case, args.repeat)
        except RuntimeError as exc:
            runner.outcomes.setdefault(case.key, Outcome()).notes.append("failed")
            runner.say(f"{case.key}: FAILED\n{exc}")
    outcomes = runner.outcomes
    text = table(outcomes, args.size_list, args.side_list, publish)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"{args.db}-{args.broker}-{'_'.join(map(str, args.size_list))}"
    if args.side_list != list(SIDES):
        suffix = f"{'_'.join(args.side_list)}-{suffix}"
    results = {
        "when": stamp,
        "command": "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cases": {
            key: {"runs": outcome.runs, "notes": outcome.notes} for key, outcome in outcomes.items()
        },
        "table": text,
        "wall_s": time.monotonic() - started,
    }
    (args.out / f"results-{suffix}.json").write_text(json.dumps(results, indent=1))
    (args.out / f"table-{suffix}.md").write_text(text + "\n")
    plot(outcomes, args.size_list, args.side_list, publish, args.out / f"scaling-{suffix}.png")
    print()
    print(text)
    print(f"\nwritten to {args.out} (*-{suffix}.*) in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
