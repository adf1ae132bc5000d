"""The fork server's spare child (python/hubmill_forkserver.py).

A request is answered by a child forked before it arrived, when there is one. Once the
server has had no request for DELAY_S, it forks a child that does at once what no request
decides (its own session, default signals, none of the server's descriptors, its random
seed, the zygote's prefault: the server's `prepare`) and then blocks on a pipe. A request is
written into that pipe and the spare's pid answered at once; the spare then does everything
that depends on the request (user, environment, folder, stderr, arguments) exactly as a
child forked for it would. A spare holds no job's data until then; it exits when the pipe
closes without a request (the server gone or stopping).
"""

import json
import os
import sys
import time

# Quiet time after which the server forks a spare (not at once: the child just handed a request
# is finishing its kernel, and the spare's preparation would compete with it for the CPU).
DELAY_S = 0.1
# A request larger than this (its environment) is not passed through a pipe; its child is forked for it.
MAX_REQUEST = 60000
# Spares that die unused (not on the server's own request) before the server stops making them.
MAX_LOST = 3


class Spares:
    """The server's side: at most one spare at a time, (pid, write end of its request pipe)."""

    def __init__(self, on):
        self.on = on
        self.child = None
        self.due = time.monotonic()
        self.lost = 0

    def timeout(self):
        """How long the server may wait for requests before a spare is due (None: none is wanted)."""
        if not self.on or self.child is not None:
            return None
        return max(0.0, self.due - time.monotonic())

    def fork(self, prepare):
        """Forks a spare. In the server: (its pid or None, None). In the spare: (0, its request), once it has one."""
        r, w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            self.due = time.monotonic() + 1.0
            return None, None
        if pid:
            os.close(r)
            self.child = (pid, w)
            return pid, None
        os.close(w)
        prepare()
        chunks = []
        while True:
            data = os.read(r, 65536)
            if not data:
                break
            chunks.append(data)
        if not chunks:
            os._exit(0)  # the server closed the pipe: no request will come
        os.close(r)
        return 0, json.loads(b"".join(chunks))

    def hand(self, line):
        """Gives a request (its JSON line as received) to the spare, if there is one; answers its pid (None: fork a child for it)."""
        self.due = time.monotonic() + DELAY_S
        if self.child is None:
            return None
        pid, w = self.child
        self.child = None
        data = line
        try:
            if len(data) > MAX_REQUEST:
                return None
            while data:
                data = data[os.write(w, data) :]
            return pid
        except OSError:  # it died meanwhile (reaped later): fork a child for this request
            return None
        finally:
            os.close(w)  # a spare that got no request reads EOF and exits

    def reaped(self, pid):
        """A child of the server ended: if it was the spare, it died unused (its preparation failed?)."""
        if self.child is None or self.child[0] != pid:
            return
        os.close(self.child[1])
        self.child = None
        self.lost += 1
        self.on = self.lost < MAX_LOST

    def forget(self):
        """In any new child of the server: no copy of the spare's pipe (the spare must see EOF when the server goes)."""
        if self.child is not None:
            os.close(self.child[1])
            self.child = None
