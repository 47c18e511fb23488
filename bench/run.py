"""`make bench`: run every benchmark in turn; each prints its own figures."""
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["poll_bench.py", "match_bench.py", "dedupe_bench.py", "dedupe_order.py", "rest_bench.py", "soak_bench.py",
           "selector_bench.py"]

if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    for name in sys.argv[1:] or BENCHES:
        print(f"== {name}", flush=True)
        runpy.run_path(str(HERE / name), run_name="__main__")
