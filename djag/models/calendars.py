"""Holiday calendars of the ``holidays`` package, named by country and subdivision.

A task's ``holiday_calendar`` is an ISO 3166 country code, optionally followed by a hyphen and
one of the package's subdivision codes for that country: ``"US"``, ``"US-NY"``, ``"DE-BY"``,
``"FR"``. The model validates the name here and stores it in its canonical case; the store
builds the calendar the core takes (``djag.core.exclusions.HolidayCalendar``) with
:func:`holiday_calendar`, so a name beat cannot read is the same name the admin refuses.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from djag.core.exclusions import HolidayCalendar

#: How many subdivisions an error message lists before "...".
SHOWN_SUBDIVISIONS = 12


def canonical_calendar(name: str) -> str:
    """The calendar's name in the package's own case ("us-ny" -> "US-NY").

    Raises ValueError with a message that names what is unknown.
    """
    text = name.strip()
    country_text, _, subdivision_text = text.partition("-")
    supported = _package().list_supported_countries()
    country = country_text.upper()
    if country not in supported:
        raise ValueError(
            f"{country_text!r} is not a country the holidays package knows "
            "(use an ISO 3166 code such as US, FR, DE)"
        )
    if not subdivision_text:
        return country
    by_key = {code.casefold(): code for code in supported[country]}
    subdivision = by_key.get(subdivision_text.casefold())
    if subdivision is None:
        known = list(supported[country])
        listed = ", ".join(known[:SHOWN_SUBDIVISIONS]) + (
            ", ..." if len(known) > SHOWN_SUBDIVISIONS else ""
        )
        hint = f"known: {listed}" if known else f"{country} has no subdivisions"
        raise ValueError(f"{subdivision_text!r} is not a subdivision of {country} ({hint})")
    return f"{country}-{subdivision}"


@lru_cache(maxsize=256)
def holiday_calendar(name: str) -> HolidayCalendar:
    """The calendar named ``name``, shared by every task that names it (it caches years).

    Raises ValueError as :func:`canonical_calendar` does.
    """
    canonical = canonical_calendar(name)
    country, _, subdivision = canonical.partition("-")

    def dates_of_year(year: int) -> dict:
        found = _package().country_holidays(country, subdiv=subdivision or None, years=year)
        return dict(found.items())

    return HolidayCalendar(canonical, dates_of_year)


def _package() -> Any:
    # Imported when a calendar is first named: it takes a fifth of a second, which every
    # worker and beat process would otherwise pay at start, calendar or not.
    import holidays

    return holidays
