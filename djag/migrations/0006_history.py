# Per-task history volume: PeriodicTask.keep_history (all | failures | last).

from django.db import migrations, models

from djag.models._compat import check_constraint


class Migration(migrations.Migration):
    dependencies = [
        ("djag", "0005_time_schedules"),
    ]

    operations = [
        migrations.AddField(
            model_name="periodictask",
            name="keep_history",
            field=models.CharField(
                choices=[
                    ("all", "all: keep every run"),
                    ("failures", "failures: delete successful runs but the last"),
                    ("last", "last: delete finished runs but the last ones"),
                ],
                default="all",
                help_text="Which finished runs djag_prune (and the djag.prune task) delete "
                "whatever their age: none (all), successes (failures), or all but the last "
                "(last). The runs beat reads are always kept.",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="periodictask",
            constraint=check_constraint(
                models.Q(keep_history__in=["all", "failures", "last"]),
                name="djag_task_keep_history",
            ),
        ),
    ]
