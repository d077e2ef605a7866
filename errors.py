"""One error type for bad input: a Dutch message for the user, an English one for the logs."""
from __future__ import annotations

from prompts import message


class UserError(Exception):
    """Raised for input the user can fix. `dutch` is shown to the user, `english` goes to the log.

    The CLI maps it to exit code 2, the web app to a visible message; neither shows a traceback.
    """

    def __init__(self, key: str, english: str, **params: object) -> None:
        self.key = key
        self.dutch = message(f"errors.{key}", **params)
        self.english = english
        super().__init__(english)
