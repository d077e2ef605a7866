"""The errors the user is told about: a Dutch message for the user, an English one for the logs; bad input
(UserError, exit code 2) or a failed service (ServiceFailure, exit code 3)."""
from __future__ import annotations

import errno

from prompts import message


class UserError(Exception):
    """Raised for input the user can fix. `dutch` is shown to the user, `english` goes to the log.

    The CLI maps it to exit code 2, the web app to a visible message; neither shows a traceback.
    """

    exit_code = 2  # the CLI's exit code for bad input

    def __init__(self, key: str, english: str, **params: object) -> None:
        self.key = key
        self.dutch = message(f"errors.{key}", **params)
        self.english = english
        super().__init__(english)


class ServiceFailure(UserError):
    """Something the app relies on failed (the language model, the disk), not the user's input: the same Dutch
    message and English log line, exit code 3. What already worked (search, quotes) goes on working."""

    exit_code = 3


def storage_failure(exc: OSError, what: str) -> ServiceFailure:
    """A failed write (disk full, read-only folder, no permission) as a message that says why in Dutch."""
    reason = {errno.ENOSPC: "disk_full", errno.EDQUOT: "disk_full", errno.EROFS: "read_only",
              errno.EACCES: "no_permission", errno.EPERM: "no_permission"}.get(exc.errno, "other")
    return ServiceFailure("storage_failed", f"could not save {what}: {exc}", what=message(f"storage.{what}"),
                          reason=message(f"storage.{reason}"))
