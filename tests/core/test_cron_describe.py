"""djag.core.cron.describe: readable text that says how the day fields combine."""

from __future__ import annotations

import pytest

from djag.core.cron import describe, parse_line


@pytest.mark.parametrize(
    ("line", "day_match", "text"),
    [
        ("0 9 1-7 * mon", "both", "At 09:00, between day 1 and 7 of the month and only on Monday"),
        (
            "0 9 1-7 * &mon",
            "either",
            "At 09:00, between day 1 and 7 of the month and only on Monday",
        ),
        ("0 9 1-7 * mon", "either", "At 09:00, between day 1 and 7 of the month, or on Monday"),
        ("0 0 13 * fri", "either", "At 00:00, on day 13 of the month, or on Friday"),
        (
            "0 9 1,15 * mon-fri",
            "both",
            "At 09:00, on day 1 and 15 of the month and only Monday through Friday",
        ),
        (
            "0 9 1,15 * mon#1",
            "either",
            "At 09:00, on day 1 and 15 of the month, or on the first Monday of the month",
        ),
        # One day field starts with "*": both must match, as cron-descriptor's text says.
        ("0 0 */2 * mon", "either", "At 00:00, every 2 days, only on Monday"),
        ("0 0 15W * *", "either", "At 00:00, on the weekday nearest day 15 of the month"),
        ("0 0 LW * *", "either", "At 00:00, on the last weekday of the month"),
        ("0 0 * * 5L", "either", "At 00:00, on the last Friday of the month"),
        ("@daily", "either", "At 00:00"),
        ("*/5 * * * * *", "either", "Every 5 seconds"),
    ],
)
def test_describe(line: str, day_match: str, text: str) -> None:
    assert describe(*parse_line(line), day_match=day_match) == text


@pytest.mark.parametrize(
    ("texts", "line"),
    [
        (("0", "61", "*", "*", "*", "*"), "0 61 * * * *"),
        # cron-descriptor misreads these; the line is better than a wrong sentence.
        (("0", "0", "0", "1W,15W", "*", "*"), "0 0 0 1W,15W * *"),
        (("0", "0", "0", "*", "*", "mon#2,tue"), "0 0 0 * * mon#2,tue"),
        (("0", "0", "9", "1-7", "*", "&mon#2,tue"), "0 0 9 1-7 * &mon#2,tue"),
    ],
)
def test_describe_falls_back_to_the_line(texts: tuple[str, ...], line: str) -> None:
    assert describe(*texts) == line
