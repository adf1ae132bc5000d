"""How a forked kernel ends (python/hubmill_forkserver.py): once its IOLoop stopped on
shutdown_request, it does what a normal exit does that anyone can observe (wait for its
threads, atexit handlers, flush open files) and then leaves with os._exit, without tearing
down every object it inherited from the fork server (gc.freeze keeps those off the child's
collections; IPython's collection at shutdown alone used to cost a kernel 0.1-0.4 s).

Loaded by the server before it forks (a child imports nothing to exit).
"""

import gc
import io
import os
import sys


# How long a kernel's exit waits for its control thread to finish the message it is handling.
CONTROL_JOIN_S = 5.0


def lean_exit(app=None):
    """The kernel's IOLoop stopped (shutdown_request): exit as Python would, minus the teardown of every object."""
    import atexit
    import threading

    code = 0
    try:
        finish_control(app)
        # The order of Py_Finalize: non-daemon threads, then atexit (IPython's history, ipykernel's sockets, the user's).
        threading._shutdown()  # noqa: SLF001 - what the interpreter itself calls at exit
        atexit._run_exitfuncs()  # noqa: SLF001
    except BaseException:  # noqa: BLE001 - the user's files are flushed all the same
        code = 1
    # Files the user left open keep no buffered data behind (a normal exit would flush them while tearing down).
    for obj in open_files(gc.get_objects()):
        try:
            if not obj.closed:
                obj.flush()
        except BaseException:  # noqa: BLE001 - a broken stream must not stop the others
            pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


def finish_control(app):
    """Lets the control thread end the message it is handling (shutdown_request) while IOPub still runs.

    After its handler, ipykernel's control thread flushes sys.stdout and sys.stderr, and each flush waits
    (10 s at most) for the IOPub thread to run it. The atexit handlers stop the IOPub thread and then join
    the control thread: had IOPub stopped before the control thread's flush ran, the kernel sat out both
    waits (20 s, more than hubmill's grace) and was killed before it flushed the user's files.
    """
    control = getattr(app, "control_thread", None)
    if control is None or not control.is_alive():
        return
    control.stop()  # after the message it is handling (a no-op if shutdown_request already stopped its loop)
    control.join(CONTROL_JOIN_S)


def open_files(objects):
    """The objects that are io.IOBase instances (their class or a registered one), one subclass check per type.

    isinstance() against the io.IOBase ABC costs a check per object (~6 ms of a kernel's exit for the
    ~3,500 objects a child made); the answer only depends on the type, so it is asked once per type.
    """
    by_type = {}
    found = []
    for obj in objects:
        cls = type(obj)
        hit = by_type.get(cls)
        if hit is None:
            hit = by_type[cls] = issubclass(cls, io.IOBase)
        if hit or (obj.__class__ is not cls and isinstance(obj, io.IOBase)):  # a proxy: as isinstance would
            found.append(obj)
    return found
