"""`time_limit`: stop one trial's work after ``trial_timeout`` seconds.

In the main thread a real-time timer (``SIGALRM``) raises `TrialTimeoutError` in the trial:
Python code, ``time.sleep`` and other calls that return on a signal stop at once. In any
other thread a watchdog thread raises it asynchronously in the trial's thread, at its next
Python instruction (a sleep then ends first).

The limit, measured: a member inside one long compiled call (a scikit-learn tree built on
many rows, say) stops when that call returns to Python, not before; one that never returns
is out of reach of any in-process timer. LightGBM and scikit-learn forests return to Python
between iterations and trees, so they stop within one of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from collections.abc import Iterator

from greenauto.exceptions import TrialTimeoutError

__all__ = ["time_limit"]


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise `TrialTimeoutError` in the block when it runs longer than ``seconds``.

    Parameters
    ----------
    seconds : float or None
        The limit; None (or inf) sets none.
    """
    if seconds is None or seconds == float("inf"):
        yield
        return
    message = f"the trial ran past trial_timeout={seconds:g} s and was stopped"
    if threading.current_thread() is threading.main_thread():
        with _alarm(seconds, message):
            yield
    else:
        with _watchdog(seconds, message):
            yield


@contextlib.contextmanager
def _alarm(seconds: float, message: str) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TrialTimeoutError(message)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _watchdog(seconds: float, message: str) -> Iterator[None]:
    target, lock, done = threading.get_ident(), threading.Lock(), []

    class _Expired(TrialTimeoutError):  # raised by class: it carries its message
        def __init__(self) -> None:
            super().__init__(message)

    _Expired.__name__ = _Expired.__qualname__ = TrialTimeoutError.__name__

    def expire() -> None:
        with lock:
            if not done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(_Expired)
                )

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            done.append(True)
        timer.cancel()
