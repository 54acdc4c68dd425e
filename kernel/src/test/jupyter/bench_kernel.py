"""Measures the kernel through jupyter_client: start to first result, and latency of a trivial cell.
Usage: bench_kernel.py OUT.json RUNS COMMAND_LINE ; writes the numbers and the command into OUT.json."""
import json
import os
import platform
import statistics
import sys
import time

import jupyter_client


def run(kc, code):
    """Executes code and waits for its execute_reply; returns the reply content."""
    msg_id = kc.execute(code)
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def main(out, runs, command):
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    km = jupyter_client.KernelManager(kernel_name="hyperlab")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    ready = time.perf_counter() - t0
    first = run(kc, "1 + 1")
    first_result = time.perf_counter() - t0
    assert first["status"] == "ok", first
    for _ in range(5):
        run(kc, "1 + 1")
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        assert run(kc, "1 + 1")["status"] == "ok"
        samples.append((time.perf_counter() - t) * 1000)
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    result = {
        "what": "HyperLab Jupyter kernel latency via jupyter_client (kernel 'hyperlab')",
        "command": command,
        "kernel_ready_s": round(ready, 3),
        "start_to_first_result_s": round(first_result, 3),
        "trivial_cell": "1 + 1",
        "trivial_cell_runs": runs,
        "trivial_cell_median_ms": round(statistics.median(samples), 2),
        "trivial_cell_p90_ms": round(sorted(samples)[int(0.9 * runs) - 1], 2),
        "trivial_cell_min_ms": round(min(samples), 2),
        "machine": f"{platform.node()} {platform.machine()} {platform.system()}, cpus={os.cpu_count()}",
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "measured_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
