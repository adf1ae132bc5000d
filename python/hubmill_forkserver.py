"""hubmill's fork server for ipykernel.

hubmill runs this file with a Python kernelspec's own interpreter, flags and
environment. It imports ipykernel (and the kernelspec's preload code) once, then
waits for requests on the local socket it got as file descriptor 3 (a
socketpair from hubmill). For each request it forks a child that becomes a
standard ipykernel, exactly as `python -m ipykernel_launcher -f FILE` would, but
without paying for the imports again.

Before forking, this process never creates a ZeroMQ context, a thread or an
event loop: all of those are made by IPKernelApp in the child.

The server also parses the kernelspec's launcher arguments (HUBMILL_FORKSERVER_ARGV, with
{connection_file} unfilled) once, and reuses the result in each child whose arguments match.

Protocol: one JSON object per line in each direction.
  hubmill -> server: {"op": "fork", "id": N, "argv": [...], "env": {...},
                      "cwd": "/dir" | null, "stderr": "/path",
                      "user": {"uid": U, "gid": G, "name": "alice"} | null}
  server -> hubmill: {"event": "hello", "pid": P, "threads": 1, "preload_ms": X, "args_parsed": true}
                     {"id": N, "pid": P} or {"id": N, "error": "why"}
                     {"event": "exit", "pid": P, "code": C | null, "signal": S | null}
When hubmill closes its end (it exited or was killed), or on SIGTERM, the
server kills every child's process group and exits.

Spare child (python/hubmill_spare.py): after a quiet moment the server forks a
child that prepares what no request decides and waits; the next request is
written into its pipe and its pid answered at once.

Copy-on-write: after its imports the server moves every object it holds into
the garbage collector's permanent generation (gc.freeze), so a child's
collections never walk (and so never copy) the server's pages; a child's exit
skips the teardown of what it inherited (python/hubmill_exit.py).
"""

import gc
import io
import json
import os
import select
import signal
import sys
import time

FD = 3
CONNECTION_FILE = "{connection_file}"


def send(obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        try:
            n = os.write(FD, data)
        except BrokenPipeError:
            return
        data = data[n:]


class Server:
    def __init__(self):
        self.pid = os.getpid()
        # sys.path as `python -m ipykernel_launcher` would have it, minus this file's folder.
        self.base_path = [p for p in sys.path[1:]]
        self.children = set()
        self.preload_ns = {}
        self.parsed = None
        self.zygote = None
        self.zygote_why = None
        self.launcher = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.spares = None  # hubmill_spare.Spares, set by main()
        self.lean_exit = None  # hubmill_exit.lean_exit, set by main()
        self.detached = False

    def preload(self, code):
        t0 = time.perf_counter()
        # What IPKernelApp imports at start (so a child only initializes), then the user's preload.
        import ipykernel.kernelapp  # noqa: F401
        import ipykernel.ipkernel  # noqa: F401
        import ipykernel.zmqshell  # noqa: F401
        import ipykernel.iostream  # noqa: F401
        import ipykernel.heartbeat  # noqa: F401
        import ipykernel.parentpoller  # noqa: F401
        # What every child would otherwise do again on its own: the two modules IPKernelApp imports
        # late, the machine's addresses (a subprocess, cached by the module), the tokenizer's patterns.
        import faulthandler  # noqa: F401
        import tokenize

        import IPython.core.completerlib  # noqa: F401
        from jupyter_client import localinterfaces

        localinterfaces.localhost()
        list(tokenize.generate_tokens(io.StringIO("x = 1\n").readline))
        if code:
            exec(compile(code, "<hubmill preload>", "exec"), self.preload_ns)
        self.preload_ns.pop("__builtins__", None)
        return (time.perf_counter() - t0) * 1000

    def parse_args_once(self, template):
        """Parses the kernelspec's launcher arguments once, as IPKernelApp would in each child.

        traitlets builds an argparse parser of every option for each parse (about 8 ms); a child
        whose arguments are the template's, with only the connection file filled in, takes this
        result instead. Anything else (or a parse that fails here) is parsed in the child as usual.
        """
        from copy import deepcopy

        from ipykernel.kernelapp import IPKernelApp

        if template.count(CONNECTION_FILE) != 1 or any(a in ("-h", "--help", "--help-all", "-V", "--version") for a in template):
            return
        try:
            app = IPKernelApp()
            app.parse_command_line(list(template))
            config = deepcopy(app.cli_config)
            if config.IPKernelApp.get("connection_file") != CONNECTION_FILE or repr(config).count(CONNECTION_FILE) != 1:
                return
            self.parsed = (list(template), config, list(app.extra_args))
        except BaseException:  # noqa: BLE001 - the child then parses for itself
            self.parsed = None

    def template_conn(self, argv):
        """The connection file when `argv` is the parsed template with it filled in, else None."""
        if self.parsed is None:
            return None
        template = self.parsed[0]
        if len(argv) != len(template) or any(a != t for a, t in zip(argv, template) if t != CONNECTION_FILE):
            return None
        return [a for a, t in zip(argv, template) if t == CONNECTION_FILE][0]

    def parsed_args(self, app, argv):
        """Gives `app` the pre-parsed arguments when `argv` is the template with a connection file filled in."""
        conn = self.template_conn(argv)
        if conn is None:
            return
        _template, config, extra = self.parsed
        from copy import deepcopy

        def parse_command_line(argv=None):
            app.argv = list(argv if argv is not None else sys.argv[1:])
            app.cli_config = deepcopy(config)
            app.cli_config.IPKernelApp.connection_file = conn
            app.update_config(app.cli_config)
            app.extra_args = list(extra)

        app.parse_command_line = parse_command_line

    def find_launcher(self):
        """Once, in the server: where `python -m ipykernel_launcher` would find the launcher (sys.path minus this folder)."""
        import importlib.util

        saved = sys.path[:]
        try:
            sys.path[:] = self.base_path
            spec = importlib.util.find_spec("ipykernel_launcher")
            self.launcher = spec.origin if spec and spec.origin else "ipykernel_launcher"
        except Exception:  # noqa: BLE001 - each child then looks for itself
            self.launcher = None
        finally:
            sys.path[:] = saved

    def launcher_path(self):
        """In the child (sys.path set): the launcher's path for sys.argv[0], as the launcher would have it.

        A launcher module in the start folder (first on sys.path) would shadow the installed one: only
        then, or when the server could not tell, is it looked up here (a lookup costs a child ~3.5 ms).
        """
        import importlib.machinery

        cwd = sys.path[0]
        names = ["ipykernel_launcher"] + ["ipykernel_launcher" + suffix for suffix in importlib.machinery.all_suffixes()]
        if self.launcher is None or any(os.path.exists(os.path.join(cwd, n)) for n in names):
            import importlib.util

            spec = importlib.util.find_spec("ipykernel_launcher")
            return spec.origin if spec and spec.origin else "ipykernel_launcher"
        return self.launcher

    def kill_children(self):
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.reap()

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            self.spares.reaped(pid)
            if os.WIFSIGNALED(status):
                send({"event": "exit", "pid": pid, "code": None, "signal": os.WTERMSIG(status)})
            else:
                send({"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status), "signal": None})

    def serve(self):
        """Answers requests until EOF (returns None); in a forked child, returns its request."""
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        buf = b""
        while True:
            ready, _, _ = select.select([FD, self.wake_r], [], [], self.spares.timeout())
            if not ready:
                pid, req = self.spares.fork(self.prepare_spare)
                if req is not None:
                    return req
                if pid:
                    self.children.add(pid)
                continue
            if self.wake_r in ready:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                self.reap()
            if FD not in ready:
                continue
            data = os.read(FD, 65536)
            if not data:
                return None
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    req = json.loads(line)
                except ValueError:
                    send({"event": "error", "error": "bad request line"})
                    continue
                if req.get("op") != "fork":
                    send({"id": req.get("id"), "error": "unknown op %r" % (req.get("op"),)})
                    continue
                pid = self.spares.hand(line)
                if pid is not None:
                    send({"id": req.get("id"), "pid": pid})
                    continue
                sys.stdout.flush()
                sys.stderr.flush()
                try:
                    pid = os.fork()
                except OSError as e:
                    send({"id": req.get("id"), "error": "fork failed: %s" % e})
                    continue
                if pid == 0:
                    return req
                self.children.add(pid)
                send({"id": req.get("id"), "pid": pid})

    def prepare_spare(self):
        """In a spare, before its request: what every child does first, and the zygote's bulk page copy."""
        self.detach()
        if self.zygote is not None:
            self.zygote.prefault()

    def detach(self):
        """In a new child, before any request: its own session, default signals, none of the server's descriptors."""
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in (FD, self.wake_r, self.wake_w):
            os.close(fd)
        self.spares.forget()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)
        # Every child starts from the server's RNG state: reseed from the OS.
        if "random" in sys.modules:
            sys.modules["random"].seed()
        if "numpy.random" in sys.modules:
            try:
                sys.modules["numpy.random"].seed()
            except Exception:  # noqa: BLE001 - a broken numpy must not stop the kernel
                pass
        self.detached = True

    def become_kernel(self, req):
        """In the child: isolate, drop privileges, then run IPKernelApp. Never returns."""
        if not self.detached:
            self.detach()
        err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(err, 2)
        os.close(err)

        user = req.get("user")
        if user:
            os.setgid(user["gid"])
            os.initgroups(user["name"], user["gid"])
            os.setuid(user["uid"])
        env = req.get("env") or {}
        os.environ.clear()
        os.environ.update(env)
        if req.get("cwd"):
            os.chdir(req["cwd"])
        # The launcher would have the start folder first on sys.path (IPython then adds '').
        sys.path[:] = [os.getcwd()] + self.base_path

        from ipykernel.kernelapp import IPKernelApp

        argv = list(req["argv"])
        sys.argv = [self.launcher_path()] + argv
        conn = self.template_conn(argv)
        if self.zygote is not None and conn is not None and self.zygote.fits(req):
            # The server built the app and the shell: finish them on this child's sockets.
            self.zygote.prefault()
            app = self.zygote.finish(conn, argv)
        else:
            if self.zygote is not None:
                self.zygote.discard()
            app = IPKernelApp.instance()
            self.parsed_args(app, argv)
            app.initialize(argv)
        if self.preload_ns and app.shell is not None:
            app.shell.user_ns.update(self.preload_ns)
        app.start()
        self.lean_exit(app)


def load_sibling(name):
    """A module next to this file (found even when the interpreter's flags keep this folder off sys.path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    # Descriptors hubmill's own parent leaked to us must not reach any kernel.
    os.closerange(FD + 1, os.sysconf("SC_OPEN_MAX"))
    start_env = dict(os.environ)
    server = Server()
    preload_ms = server.preload(os.environ.pop("HUBMILL_FORKSERVER_PRELOAD", ""))
    try:
        template = json.loads(os.environ.pop("HUBMILL_FORKSERVER_ARGV", "null"))
    except ValueError:
        template = None
    if isinstance(template, list) and all(isinstance(a, str) for a in template):
        server.parse_args_once(template)
    server.find_launcher()
    spare_on = os.environ.pop("HUBMILL_FORKSERVER_SPARE", "1").lower() not in ("0", "false", "no", "off")
    server.spares = load_sibling("hubmill_spare").Spares(spare_on)
    server.lean_exit = load_sibling("hubmill_exit").lean_exit
    # IPKernelApp up to its sockets and the kernel's shell, built once (python/hubmill_zygote.py), when it checks out.
    hubmill_zygote = load_sibling("hubmill_zygote")
    server.zygote, server.zygote_why = hubmill_zygote.build(server.parsed, server.parsed_args, start_env)
    # Everything imported so far is shared with the children: keep their collections off these pages.
    gc.collect()
    gc.freeze()
    # The pages a zygote child writes, copied in bulk at its start (python/hubmill_zygote.py, Zygote.prefault).
    prefault_why = "no zygote"
    if server.zygote is not None:
        if os.environ.pop("HUBMILL_FORKSERVER_PREFAULT", "1").lower() in ("0", "false", "no", "off"):
            prefault_why = "turned off (HUBMILL_FORKSERVER_PREFAULT)"
        elif not server.zygote.hot_seen:
            prefault_why = "the self-check child reported no pages"
        else:
            prefault_why = server.zygote.learn_hot(server.zygote.hot_seen)
    import threading

    send({"event": "hello", "spare": spare_on, "pid": server.pid, "threads": threading.active_count(), "preload_ms": round(preload_ms, 1), "args_parsed": server.parsed is not None, "zygote": server.zygote is not None, "zygote_why": server.zygote_why, "prefault_pages": sum((b - a) for a, b in (server.zygote.hot or [])) // hubmill_zygote.PAGE if server.zygote else 0, "prefault_why": prefault_why})

    def on_term(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        req = server.serve()
    except BaseException:
        if os.getpid() == server.pid:
            server.kill_children()
        raise
    if req is None:
        server.kill_children()
        return 0
    try:
        server.become_kernel(req)
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
