"""Whether this process may take SIGTERM for itself.

Python runs signal handlers in the main thread only, and a handler that someone else installed (a
CI wrapper, pytest-xdist, another part of this plugin) is theirs to keep: a SIGTERM handler is
installed only from the main thread, over Python's default.
"""

from __future__ import annotations

import signal
import threading


def sigterm_is_ours_to_take() -> bool:
    """True in the main thread while SIGTERM still has Python's default handler."""
    main = threading.current_thread() is threading.main_thread()
    return main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
