"""`make bench`: run every benchmark in turn, each in a process of its own (one bench's heap must
not slow the next one's collector or count in its memory figures); each prints its own figures."""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["poll_bench.py", "conditional_bench.py", "match_bench.py", "dedupe_bench.py", "dedupe_order.py", "rest_bench.py", "job_bench.py",
           "soak_bench.py",
           "selector_bench.py"]

if __name__ == "__main__":
    failed = []
    for name in sys.argv[1:] or BENCHES:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")
