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


def lean_exit():
    """The kernel's IOLoop stopped (shutdown_request): exit as Python would, minus the teardown of every object."""
    import atexit
    import threading

    code = 0
    try:
        # The order of Py_Finalize: non-daemon threads, then atexit (IPython's history, ipykernel's sockets, the user's).
        threading._shutdown()  # noqa: SLF001 - what the interpreter itself calls at exit
        atexit._run_exitfuncs()  # noqa: SLF001
        # Files the user left open keep no buffered data behind (a normal exit would flush them while tearing down).
        for obj in open_files(gc.get_objects()):
            try:
                if not obj.closed:
                    obj.flush()
            except Exception:  # noqa: BLE001 - a broken stream must not stop the others
                pass
    except BaseException:  # noqa: BLE001
        code = 1
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


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
