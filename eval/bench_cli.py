"""How fast the command line answers: `kotae --help` and `kotae kb stats`, median of 5 runs each.

    python eval/bench_cli.py                  # ingests knowledge_base/ into a temporary home first
    python eval/bench_cli.py --home DIR       # an existing home (its default workspace)
    python eval/bench_cli.py --home DIR --workspace scale   # e.g. a home eval/bench_scale.py filled
    python eval/bench_cli.py --runs 9

Goals (issue 13): `kotae --help` < 0.4 s, `kotae kb stats` < 1 s, on the 2-core machine. Each run
is a new process, timed from start to exit, as a person would feel it. Prints numbers only; no
test asserts them (a busy machine would make such a test fail for nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def kotae() -> list[str]:
    found = shutil.which("kotae", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "service.cli.main"]


def timed(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (user + system) of each run: on a shared machine the CPU time is the
    steadier of the two, the wall time what a person waits."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-1000:]}")
    return times, cpu


def load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1/5/15 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workspace", default=None, help="the workspace `kb stats` reads (default: the default)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="kotae-cli-"))
    env = {**os.environ, "KOTAE_HOME": str(home), "ANONYMIZED_TELEMETRY": "False", "COLUMNS": "120"}
    if args.workspace:
        env["KOTAE_WORKSPACE"] = args.workspace
    if args.home is None:
        subprocess.run([*kotae(), "ingest", str(ROOT / "knowledge_base")], env=env, capture_output=True, check=True)
    stats = subprocess.run([*kotae(), "kb", "stats", "--json"], env=env, capture_output=True, text=True, check=True)
    entries = json.loads(stats.stdout)["entries"]
    print(f"cpus {os.cpu_count()}, load average at start {load()}; home {home}, {entries:,} entries")
    for name, command in (("kotae --help", ["--help"]), ("kotae kb stats", ["kb", "stats"])):
        times, cpu = timed([*kotae(), *command], env, args.runs)
        print(
            f"{name}: median {statistics.median(times):.3f} s wall, {statistics.median(cpu):.3f} s CPU "
            f"(wall min {min(times):.3f}, max {max(times):.3f}; {args.runs} runs)"
        )
    print(f"load average at end {load()}")


if __name__ == "__main__":
    main()
