"""A fix of a race in kombu's filesystem transport (kombu#1551), the demo's default broker.

kombu's ``Channel._put`` creates the message file under its final name, then
writes it; a worker polling the folder in between moves the still empty file
away, fails to decode it ("Expecting value: line 1 column 1") and stops with
an unrecoverable error. Here the message is written under a name the consumer
ignores, then renamed, which is atomic within one folder. Imported by the
sample site's Celery app, hence by every worker and beat of the demo and the tests.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


def _put(self: filesystem.Channel, queue: str, payload: Any, **kwargs: Any) -> None:
    """Put ``payload`` onto ``queue``: the file appears complete or not at all."""
    name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
    path = os.path.join(self.data_folder_out, name)
    partial = os.path.join(self.data_folder_out, f".partial-{name}")  # never a ".<queue>.msg" name
    try:
        with open(partial, "wb") as out:
            out.write(dumps(payload).encode())
        os.replace(partial, path)
    except OSError as exc:
        raise ChannelError(f"Cannot add file {path!r} to directory") from exc


filesystem.Channel._put = _put  # type: ignore[method-assign]
