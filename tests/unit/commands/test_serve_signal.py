"""SIGTERM's exception must get out of waitress's event handlers (hipcam.commands.shutdown.Shutdown).

The signal handler raises in the main thread wherever it is; when that is inside one of waitress's
event handlers, waitress swallows everything but ExitNow, KeyboardInterrupt and SystemExit (it calls
the channel's handle_error and serves on), and the service did not stop.
"""

from __future__ import annotations

import pytest
from waitress import wasyncore

from hipcam.commands.shutdown import Shutdown as _Shutdown


class _Channel:
    """A waitress channel in the middle of a read when the signal arrives."""

    def __init__(self) -> None:
        self.errors = 0

    def handle_read_event(self) -> None:
        raise _Shutdown("SIGTERM")

    def handle_error(self) -> None:
        self.errors += 1


def test_the_shutdown_gets_out_of_a_waitress_handler() -> None:
    channel = _Channel()
    with pytest.raises(_Shutdown):
        wasyncore.read(channel)
    assert channel.errors == 0
