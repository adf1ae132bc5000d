"""Kernel's own per-cell time as seen by the reference Python client.

Starts the python3 kernel with jupyter_client (as papermill/nbclient do),
then runs the same 200 cells through BlockingKernelClient: send
execute_request, wait for the execute_reply on shell and the idle status on
iopub for that request, exactly what one notebook cell costs a client that
does nothing else. Prints one JSON line.

usage: /usr/bin/python3 bench/kernel_roundtrip.py ROUNDS
"""
import json
import statistics
import sys
import time

from jupyter_client.manager import KernelManager

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
CODES = [f"x_{i} = {i} * 2" for i in range(200)]


def run_cell(kc, code):
    msg_id = kc.execute(code)
    got_reply = got_idle = False
    while not (got_reply and got_idle):
        if not got_reply:
            reply = kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                got_reply = True
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(reply["content"])
            continue
        msg = kc.get_iopub_msg(timeout=30)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            got_idle = True


def main():
    starts = []
    t0 = time.perf_counter()
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    starts.append((time.perf_counter() - t0) * 1000)
    try:
        for code in CODES:  # warm-up
            run_cell(kc, code)
        one = []
        for _ in range(20):
            t = time.perf_counter()
            run_cell(kc, "1+1")
            one.append((time.perf_counter() - t) * 1000)
        totals = []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            for code in CODES:
                run_cell(kc, code)
            totals.append((time.perf_counter() - t) * 1000)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    med = statistics.median(totals)
    print(
        json.dumps(
            {
                "cells": len(CODES),
                "rounds": ROUNDS,
                "kernelStartToReadyMs": starts[0],
                "oneTrivialCellRoundTripMs": statistics.median(one),
                "totalsMs": totals,
                "medianPerCellMs": med / len(CODES),
            }
        )
    )


if __name__ == "__main__":
    main()
