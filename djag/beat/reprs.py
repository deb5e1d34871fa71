"""Celery's ``saferepr`` of a task's arguments, without its token stream where it is plain ``repr``.

``send_task`` puts ``saferepr(args)`` and ``saferepr(kwargs)`` in every message
(the ``argsrepr``/``kwargsrepr`` headers). Celery's ``saferepr`` walks the value
token by token to truncate it at a size and a depth, which costs tens of
microseconds for even ``{"n": 1}``: a large part of composing a burst of new
messages. For the arguments periodic tasks have (JSON from the database:
lists and dicts of numbers, booleans, None and simple strings, shorter than the
limit, nested less deep than ``task_repr_maxlevels``) its result is exactly
``repr``'s; anything else goes to ``saferepr`` itself.
``tests/beat/test_reprs.py`` checks the two agree on generated values.
"""

from __future__ import annotations

from typing import Any

from celery.utils.saferepr import saferepr

#: Deeper than this is never taken for plain (saferepr's own limit is usually 3).
_DEEPEST = 8


def task_repr(value: Any, maxlen: int | None, maxlevels: int) -> str:
    """``saferepr(value, maxlen, maxlevels=maxlevels)``, the same string, faster when plain."""
    if value == () and type(value) is tuple:  # no arguments, as Celery passes them
        return "()"
    if _plain(value, 0, maxlevels or _DEEPEST):
        text = repr(value)
        if maxlen is None or len(text) < maxlen:
            return text
    return saferepr(value, maxlen, maxlevels=maxlevels)


def _plain(value: Any, depth: int, maxlevels: int) -> bool:
    """Whether saferepr renders ``value`` (at ``depth`` containers down) exactly as repr does.

    saferepr writes a number with ``str`` (the same as ``repr`` for these
    exact types, not for subclasses such as enums), quotes a string with
    single quotes whatever it holds, and writes a container found at depth
    ``maxlevels`` as ``[...]``.
    """
    kind = type(value)
    if kind is str:
        return "'" not in value and "\\" not in value and value.isprintable()
    if kind is int or kind is float or kind is bool or value is None:
        return True
    if kind is list:
        return depth < maxlevels and all(_plain(item, depth + 1, maxlevels) for item in value)
    if kind is dict:
        return depth < maxlevels and all(
            _plain(key, depth + 1, maxlevels) and _plain(item, depth + 1, maxlevels)
            for key, item in value.items()
        )
    return False
