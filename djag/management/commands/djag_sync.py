"""djag_sync: create or update the tasks, crontabs and dependencies declared in code, or
export the database's schedules in that format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from djag import conf
from djag.models import acting_as
from djag.sync import apply, declared, export

ACTOR = "djag_sync"


class Command(BaseCommand):
    help = (
        "Create or update the periodic tasks, crontabs and dependencies declared in "
        "schedule files (.yaml/.yml, .json) or Python modules exposing a SCHEDULES dict. "
        "Without FILE, reads DJAG_SCHEDULES. Idempotent: a second run changes nothing. "
        "Tasks it creates are marked code-managed (their source is the file); --prune "
        "deletes the code-managed tasks no longer declared, never those made in the admin. "
        "Nothing is written if any task is invalid. --export FILE writes every task of the "
        "database to FILE in this format instead (YAML or JSON, by its extension)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "files",
            nargs="*",
            metavar="FILE",
            help="Schedule files or dotted module names. Default: DJAG_SCHEDULES.",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Delete code-managed tasks that no FILE declares any more. Give every "
            "schedule file at once: a task declared in a file left out is deleted.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would change; write nothing.",
        )
        parser.add_argument(
            "--export",
            metavar="FILE",
            default=None,
            help="Write every task, its crontab or interval and its dependencies to FILE "
            "(.yaml, .yml or .json) in the format djag_sync reads; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["export"] is not None:
            self.export(Path(options["export"]), options)
            return
        specs = list(options["files"]) or list(conf.get().schedules)
        if not specs:
            raise CommandError(
                "No schedule to sync: give FILE (a .yaml, .yml or .json file, or a dotted "
                "module name) or set DJAG_SCHEDULES."
            )
        dry_run = options["dry_run"]
        try:
            tasks = declared.read_all(specs)
            using = transaction.get_connection().alias
            with transaction.atomic(using=using), acting_as(ACTOR):
                result = apply.sync(tasks, prune=options["prune"])
                if dry_run:
                    transaction.set_rollback(True, using=using)
        except declared.SyncError as exc:
            raise CommandError(
                "Nothing was written; fix these and run again:\n"
                + "\n".join(f"  {line}" for line in exc.errors)
            ) from exc
        self.report(result, specs, dry_run)

    def export(self, path: Path, options: dict[str, Any]) -> None:
        mixed = [
            text
            for text, given in (
                ("FILE", options["files"]),
                ("--prune", options["prune"]),
                ("--dry-run", options["dry_run"]),
            )
            if given
        ]
        if mixed:
            raise CommandError(
                f"--export writes the database's schedules to a file; it takes no "
                f"{', '.join(mixed)}."
            )
        try:
            export.check_target(path)
            data = export.declarations()
            export.write(path, data)
        except declared.SyncError as exc:
            raise CommandError("Nothing was exported: " + "; ".join(exc.errors)) from exc
        self.stdout.write(
            f"Exported {len(data['tasks'])} task(s) to {path}. Sync it back with: "
            f"manage.py djag_sync {path}"
        )

    def report(self, result: apply.SyncResult, specs: list[str], dry_run: bool) -> None:
        for change in result.changes:
            self.stdout.write("\n".join(change.lines()))
        if result.undeclared:
            self.stdout.write(
                f"{len(result.undeclared)} code-managed task(s) no longer declared (kept; "
                f"--prune deletes them): {', '.join(result.undeclared)}"
            )
        created, updated = result.count("create"), result.count("update")
        deleted = result.count("delete")
        unchanged = result.declared - created - updated
        verb = "Would sync" if dry_run else "Synced"
        summary = (
            f"{verb} {result.declared} task(s) from {', '.join(specs)}: {created} created, "
            f"{updated} updated, {unchanged} unchanged, {deleted} deleted"
        )
        edges = sum(1 for change in result.changes if change.kind == "dependency")
        crontabs = sum(1 for change in result.changes if change.kind == "crontab")
        self.stdout.write(f"{summary}; {edges} dependency and {crontabs} crontab change(s).")
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        elif not result.changes:
            self.stdout.write("Everything was already up to date.")
