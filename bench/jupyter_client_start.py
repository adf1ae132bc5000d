"""Kernel start through jupyter_client, the way nbclient and papermill start one:
KernelManager.start_kernel() then a blocking client's wait_for_ready(). Prints one
JSON line: {"startToReadyMs": [...]} for N starts (argv[1], default 5), measured
inside this process (interpreter start-up and imports excluded)."""
import json
import sys
import time

from jupyter_client import KernelManager

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
out = []
for _ in range(n):
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    out.append((time.perf_counter() - t0) * 1000)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(json.dumps({"startToReadyMs": out}))
