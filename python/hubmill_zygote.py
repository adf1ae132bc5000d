"""Zygote kernels for hubmill's fork server (python/hubmill_forkserver.py).

IPKernelApp.initialize() in a forked child cost about 150-220 ms of CPU, most of it
building the InteractiveShell (display formatters, magics, completer, history, user
namespace) and reading the profile's configuration. None of that depends on the job
when the child's user, environment and arguments are the server's (the warm pool's
kernels): the server builds it once, before forking, and each child only does what
must be its own: ZeroMQ context, sockets, threads, ports, its session, its history
database, the kernel object that wires the prebuilt shell to its sockets.

Guard: `build` checks that the installed ipykernel's internals are the ones this file
was written for (the exact sequence of steps in IPKernelApp.initialize, the kernel's
constructor taking its shell from `shell_class.instance`, InteractiveShell's history
set-up), then forks one child that finishes a kernel on throwaway ports and runs a
cell. Anything unexpected leaves the server on the ordinary path (IPKernelApp built
in each child), with the reason in its hello.

Before forking nothing here starts a thread or a ZeroMQ context: the history is an
in-memory SQLite database without its saving thread; each child opens the real one.
"""

import atexit
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

# IPKernelApp.initialize's own steps, in order (ipykernel 6.x); the zygote does the first three.
EXPECTED_STEPS = [
    "_init_asyncio_patch", "init_pdb", "init_blackhole",
    "init_connection_file", "init_poller", "init_sockets", "init_heartbeat", "write_connection_file",
    "log_connection_info", "init_io", "init_signal", "init_kernel",
    "init_path", "init_shell", "init_gui_pylab", "init_extensions", "init_code",
]  # fmt: skip
# Variables that are each kernel's own; any other difference from the server's environment means a fresh app.
PER_KERNEL_ENV = {"JPY_PARENT_PID"}
SELF_CHECK_TIMEOUT_S = 30


def mismatch():
    """Why the installed ipykernel/IPython differ from what the zygote expects (None when they match)."""
    try:
        from IPython.core.interactiveshell import InteractiveShell
        from ipykernel.ipkernel import IPythonKernel
        from ipykernel.kernelapp import IPKernelApp
        from jupyter_client.session import Session

        def source(what, name):
            try:
                return inspect.getsource(what)
            except (OSError, TypeError):
                raise LookupError("the source of %s cannot be read" % name) from None

        init = source(IPKernelApp.initialize, "IPKernelApp.initialize")
        steps = re.findall(r"self\.(\w+)\(", init)
        if steps != EXPECTED_STEPS:
            return "IPKernelApp.initialize runs %s" % ",".join(steps)
        if "super().initialize(argv)" not in init:
            return "IPKernelApp.initialize does not start with the base application's"
        if "self.shell_class.instance(" not in source(IPythonKernel.__init__, "IPythonKernel.__init__"):
            return "IPythonKernel does not take its shell from shell_class.instance"
        if "HistoryManager(shell=self, parent=self)" not in source(InteractiveShell.init_history, "InteractiveShell.init_history"):
            return "InteractiveShell.init_history differs"
        for cls, names in (
            (InteractiveShell, ("init_environment", "save_sys_module_state", "atexit_operations", "starting_dir", "home_dir")),
            (Session, ("pid", "session", "digest_history", "key", "bsession")),
        ):
            for name in names:
                if not hasattr(cls, name) and "self.%s =" % name not in inspect.getsource(cls):
                    return "%s.%s is missing" % (cls.__name__, name)
    except LookupError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - any surprise means: not this ipykernel
        return "check failed: %r" % (e,)
    return None


# madvise(MADV_POPULATE_WRITE), Linux 5.14: makes a range's pages the process's own in one call.
MADV_POPULATE_WRITE = 23
# Gaps of at most this many pages between two written ranges are populated too (fewer calls, more memory: 4 took 4,936 pages for 3,069 written).
PREFAULT_GAP_PAGES = 0
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Zygote:
    def __init__(self, app, shell, env):
        self.app = app
        self.shell = shell
        self.env = env
        # The pages of the server a kernel writes as it finishes and runs a cell (learnt by the self-check):
        # [(start, end)] and the madvise function that copies them in one call each, or None.
        self.hot = None
        self._madvise = None
        self.hot_seen = None  # what the self-check child wrote, before learn_hot keeps what is still mapped

    def prefault(self):
        """In the child, first thing: take a private copy of the pages it is about to write, in bulk.

        Each of those pages would otherwise be copied on its first write, one page fault each (~15 us of
        CPU apiece on the 2-core EPYC VM, ~3,000 per kernel). Contents do not change; a range that is no
        longer mapped or writable is refused by the kernel and skipped.
        """
        if not self.hot or self._madvise is None:
            return 0
        hot, self.hot = self.hot, None  # once per child (a spare child does it before its request)
        for start, end in hot:
            self._madvise(start, end - start, MADV_POPULATE_WRITE)
        return len(hot)

    def learn_hot(self, ranges):
        """In the server: keep `ranges` (from the self-check child) that are still private writable mappings."""
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            madvise = libc.madvise
            madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            madvise.restype = ctypes.c_int
            maps = private_writable_maps()
            kept = [(max(a, m0), min(b, m1)) for a, b in ranges for m0, m1 in maps if a < m1 and m0 < b]
            # A probe on one page of the server's own (already its own: no copy) says whether the kernel knows the advice.
            if kept and madvise(kept[0][0], PAGE, MADV_POPULATE_WRITE) != 0:
                return "madvise(MADV_POPULATE_WRITE) refused (errno %d)" % ctypes.get_errno()
            self.hot, self._madvise = kept or None, madvise
            return None
        except Exception as e:  # noqa: BLE001 - children then fault their pages one by one, as before
            self.hot = None
            return "prefault unavailable: %r" % (e,)

    def fits(self, req):
        """A child may use the prebuilt app: same user and environment as the server (bar per-kernel variables)."""
        if req.get("user"):
            return False
        env = {k: v for k, v in (req.get("env") or {}).items() if k not in PER_KERNEL_ENV}
        return env == self.env

    def discard(self):
        """In a child that does not fit: forget the prebuilt app and shell, so IPKernelApp starts from scratch."""
        from ipykernel.kernelapp import IPKernelApp

        atexit.unregister(self.shell.atexit_operations)
        type(self.shell).clear_instance()
        IPKernelApp.clear_instance()
        self.app = self.shell = None

    def finish(self, conn_file, argv, hist_file=":memory:"):
        """In the child: the rest of IPKernelApp.initialize, in its order, around the prebuilt shell."""
        from IPython.core.history import HistoryManager
        from IPython.utils.path import get_home_dir
        from jupyter_client.session import new_id, new_id_bytes

        app, shell = self.app, self.shell
        app.argv = list(argv)
        app.connection_file = conn_file
        # The prebuilt session gets its own id and pid (Session refuses to send from another pid); its key is
        # the connection file's, set below.
        app.session.session = new_id()
        app.session.pid = os.getpid()
        app.session.digest_history = set()
        app.session.key = new_id_bytes()  # as a new Session's; the connection file's key replaces it
        app.init_crash_handler()
        app.init_connection_file()
        app.init_poller()
        app.init_sockets()
        app.init_heartbeat()
        app.write_connection_file()
        app.log_connection_info()
        app.init_io()
        try:
            app.init_signal()
        except Exception:  # noqa: BLE001 - as IPKernelApp.initialize
            pass
        # What the shell read from the process when it was built, read again here (env, folder, home, streams).
        shell.init_environment()
        shell.starting_dir = os.getcwd()
        shell.home_dir = get_home_dir()
        state = getattr(shell, "_orig_sys_module_state", None)
        if isinstance(state, dict):
            state.update(stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr, excepthook=sys.excepthook)
        # Its own history, in memory as the prebuilt one (no database file shared by concurrent kernels,
        # no saving thread), made here so that no SQLite connection crosses the fork.
        old = shell.history_manager
        shell.configurables.remove(old)
        hm = shell.history_manager = HistoryManager(shell=shell, parent=shell, hist_file=hist_file)
        shell.configurables.append(hm)
        for ns in (shell.user_ns, shell.user_ns_hidden):
            ns.update(_ih=hm.input_hist_parsed, In=hm.input_hist_parsed, _oh=hm.output_hist, Out=hm.output_hist, _dh=hm.dir_hist)
        app.init_kernel()
        if app.kernel.shell is not shell:
            raise RuntimeError("the kernel built its own shell")
        shell.kernel = app.kernel
        shell.parent = app.kernel  # as the kernel's own constructor would have built it
        app._hubmill_zygote = True  # noqa: SLF001 - how a test tells which path a kernel took
        app.init_path()
        app.init_shell()
        if app.shell:
            app.init_gui_pylab()
            app.init_extensions()
            app.init_code()
        sys.stdout.flush()
        sys.stderr.flush()
        return app


def private_writable_maps():
    """The process's private writable mappings, [(start, end)]."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            if fields[1] == "rw-p":
                a, b = fields[0].split("-")
                out.append((int(a, 16), int(b, 16)))
    return out


def written_ranges(maps):
    """Pages of `maps` (the server's mappings) this process has its own copy of now, as coalesced ranges.

    /proc/self/pagemap: bit 63 present, bit 56 mapped by this process only (a copy made on write, or a
    page first touched here).
    """
    import struct

    ranges = []
    with open("/proc/self/pagemap", "rb") as pm:
        for start, end in maps:
            pm.seek(start // PAGE * 8)
            data = pm.read((end - start) // PAGE * 8)
            for i, (entry,) in enumerate(struct.iter_unpack("<Q", data)):
                if entry >> 63 & 1 and entry >> 56 & 1:
                    page = start + i * PAGE
                    if ranges and ranges[-1][1] >= page - PREFAULT_GAP_PAGES * PAGE and ranges[-1][1] > start:
                        ranges[-1][1] = page + PAGE
                    else:
                        ranges.append([page, page + PAGE])
    return [tuple(r) for r in ranges]


def _prebuild(parsed, set_cli):
    """IPKernelApp up to its sockets, and the kernel's shell (history in memory), in this process."""
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelapp import IPKernelApp
    from IPython.core.application import BaseIPythonApplication
    from IPython.core.history import HistoryManager
    from ipykernel.compiler import XCachingCompiler

    template, _config, _extra = parsed
    hook = sys.excepthook
    app = IPKernelApp.instance()
    set_cli(app, template)
    app._init_asyncio_patch()  # noqa: SLF001
    BaseIPythonApplication.initialize(app, template)
    sys.excepthook = hook  # the crash handler is each child's (the server keeps its own)
    if app.subapp is not None:
        raise RuntimeError("the arguments start a subapp")
    app.init_pdb()
    app.init_blackhole()
    app.session  # noqa: B018 - built here (Session(parent=app), ~15 ms); each child gives it its own id, pid and key
    kernel_class = app.kernel_class
    if not issubclass(kernel_class, IPythonKernel):
        raise RuntimeError("kernel_class is %s" % kernel_class.__name__)
    for section in {kernel_class.__name__, "IPythonKernel"}:
        if "shell_class" in app.config.get(section, {}):
            raise RuntimeError("the configuration sets %s.shell_class" % section)
    shell_class = kernel_class.class_traits()["shell_class"].default()

    def memory_history(self):
        self.history_manager = HistoryManager(shell=self, parent=self, hist_file=":memory:")
        self.configurables.append(self.history_manager)

    had = "init_history" in shell_class.__dict__
    saved = shell_class.__dict__.get("init_history")
    shell_class.init_history = memory_history
    try:
        shell = shell_class.instance(parent=app, profile_dir=app.profile_dir, user_module=None, user_ns=app.user_ns, kernel=None, compiler_class=XCachingCompiler)
    finally:
        if had:
            shell_class.init_history = saved
        else:
            del shell_class.init_history
    # What a first display and a first cell would build on use (formatters, the tokenizer's patterns, the
    # execution path): a silent cell, as the pool's warm-up sends (no history, no execution count, no output).
    shell.display_formatter.format(0)
    shell.input_transformer_manager.transform_cell("x = 1\n")
    count = shell.execution_count
    warm = shell.run_cell("get_ipython().display_formatter.format(0)", silent=True, store_history=False)
    if not warm.success or shell.execution_count != count:
        raise RuntimeError("the silent warm-up cell failed or counted")
    shell.last_execution_result = None
    if threading.active_count() != 1:
        raise RuntimeError("building the shell started a thread")
    return app, shell


def build(parsed, set_cli, start_env):
    """The server's zygote, or (None, why) when this ipykernel does not fit or the self-check failed.

    `start_env`: the server's environment as hubmill gave it (before the imports, which may set variables):
    a child whose environment is that one (bar per-kernel variables) may use the zygote.
    """
    if os.environ.pop("HUBMILL_FORKSERVER_ZYGOTE", "1").lower() in ("0", "false", "no", "off"):
        return None, "turned off (HUBMILL_FORKSERVER_ZYGOTE)"
    if parsed is None:
        return None, "the kernelspec's arguments were not parsed once in the server"
    why = mismatch()
    if why:
        return None, why
    env = {k: v for k, v in start_env.items() if k not in PER_KERNEL_ENV and not k.startswith("HUBMILL_FORKSERVER_")}
    try:
        app, shell = _prebuild(parsed, set_cli)
    except Exception as e:  # noqa: BLE001
        _forget()
        return None, "building failed: %r" % (e,)
    zygote = Zygote(app, shell, env)
    why = self_check(zygote, parsed[0])
    if why:
        zygote.discard()
        return None, why
    return zygote, None


def _forget():
    try:
        from ipykernel.kernelapp import IPKernelApp
        from IPython.core.interactiveshell import InteractiveShell

        inst = InteractiveShell._instance  # noqa: SLF001
        if inst is not None:
            atexit.unregister(inst.atexit_operations)
        InteractiveShell.clear_instance()
        IPKernelApp.clear_instance()
    except Exception:  # noqa: BLE001
        pass


def self_check(zygote, template):
    """Forks one child that finishes a kernel (throwaway ports, folder and history) and runs a cell in it."""
    server_session, server_key = zygote.app.session.session, zygote.app.session.key
    tmp = tempfile.mkdtemp(prefix="hubmill-zygote-check-")
    conn = os.path.join(tmp, "kernel.json")
    hot_file = os.path.join(tmp, "hot.json")
    maps = private_writable_maps()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.close(3)  # the server's socket to hubmill
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            argv = [conn if a == "{connection_file}" else a for a in template]
            app = zygote.finish(conn, argv, hist_file=os.path.join(tmp, "history.sqlite"))
            shell = app.shell
            result = shell.run_cell("__hubmill_check = 6 * 7", store_history=True, silent=False)
            ok = (
                result.success
                and shell.user_ns.get("__hubmill_check") == 42
                and app.kernel.shell is shell
                and shell.kernel is app.kernel
                and app.session.pid == os.getpid()
                and app.session.session != server_session
                and app.session.bsession == app.session.session.encode("ascii")
                and app.session.key != server_key
                and json.load(open(conn))["key"].encode() == app.session.key
                and str(shell.history_manager.hist_file).endswith("history.sqlite")
                and shell.user_ns["In"] is shell.history_manager.input_hist_parsed
                and len(shell.user_ns["In"]) == 2
                and str(shell.user_ns["_dh"][0]) == os.getcwd()
            )
            code = 0 if ok else 2
            if ok:
                try:
                    with open(hot_file, "w") as f:
                        json.dump(written_ranges(maps), f)
                except Exception:  # noqa: BLE001 - no prefault then, the kernel is fine
                    pass
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.__stderr__.flush()
            finally:
                os._exit(code)
    try:
        deadline = time.monotonic() + SELF_CHECK_TIMEOUT_S
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return "the self-check child did not finish within %d s" % SELF_CHECK_TIMEOUT_S
            time.sleep(0.01)
        code = os.waitstatus_to_exitcode(status)
        if code == 2:
            return "the self-check child's kernel was not wired as expected"
        if code != 0:
            return "the self-check child failed (exit %s; its traceback is in the server's stderr)" % code
        try:
            with open(hot_file) as f:
                zygote.hot_seen = [tuple(r) for r in json.load(f)]
        except (OSError, ValueError):
            zygote.hot_seen = None
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
