"""Load test of the review actions: N concurrent reviewers against a local server.

    python eval/load_review.py [--reviewers 50] [--actions 20] [--database-url URL]

Starts `kotae serve` on a free loopback port with a temporary data directory, creates the users,
ingests the seeds, uploads a questionnaire and waits for its drafts; then every reviewer, in its
own thread with its own HTTP connection, performs a bounded number of review actions (read an
item, edit, accept, comment) on its own share of the items. Prints p50 and p95 per action.
Goal: p95 <= 50 ms at 50 reviewers. Traffic goes to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
PASSWORD = "load-test-password"
sys.path.insert(0, str(ROOT / "eval"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--actions", type=int, default=20, help="actions per reviewer")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a reviewer spends between actions (uniform 0.5x-1.5x); 0 = back to back",
    )
    args = parser.parse_args()

    from bench_draft import questionnaire_bytes

    from service.accounts.service import create_token, create_user, set_role
    from service.db import session_scope
    from service.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, KOTAE_HOME=home, ANONYMIZED_TELEMETRY="False")
        if args.database_url:
            env["KOTAE_DATABASE_URL"] = args.database_url
        settings = Settings(home=Path(home), database_url=args.database_url)
        tokens = []
        with session_scope(settings.resolved_database_url) as session:
            admin = create_user(session, "admin@load.test", PASSWORD)
            set_role(session, admin, "load", "admin")
            admin_token = create_token(session, admin)
            for n in range(args.reviewers):
                user = create_user(session, f"r{n}@load.test", PASSWORD)
                set_role(session, user, "load", "reviewer")
                tokens.append(create_token(session, user))

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "service.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            admin_headers = {"Authorization": f"Bearer {admin_token}"}
            with httpx.Client(base_url=base, timeout=120) as client:
                for _ in range(300):
                    try:
                        client.get("/docs")
                        break
                    except httpx.TransportError:
                        time.sleep(0.2)
                files = [("files", (p.name, p.read_bytes())) for p in sorted(SEEDS.iterdir())]
                client.post("/api/workspaces/load/kb/files", files=files, headers=admin_headers).raise_for_status()
                q = client.post(
                    "/api/workspaces/load/questionnaires",
                    files={"file": ("load.xlsx", questionnaire_bytes(args.questions))},
                    headers=admin_headers,
                ).json()
                while client.get(f"/api/questionnaires/{q['id']}", headers=admin_headers).json()["status"] not in (
                    "done",
                    "failed",
                ):
                    time.sleep(0.5)
                items = client.get(f"/api/questionnaires/{q['id']}/items", headers=admin_headers).json()

            timings: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []
            lock = threading.Lock()

            def reviewer(n: int) -> None:
                mine = items[n :: args.reviewers] or items
                headers = {"Authorization": f"Bearer {tokens[n]}"}
                with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
                    for step in range(args.actions):
                        item = mine[step % len(mine)]
                        for action in ("get", "edit", "accept", "comment"):
                            if args.think:
                                time.sleep(args.think * random.uniform(0.5, 1.5))
                            started = time.perf_counter()
                            if action == "get":
                                response = http.get(f"/api/items/{item['id']}")
                                item = response.json() if response.status_code == 200 else item
                            elif action == "edit":
                                response = http.post(
                                    f"/api/items/{item['id']}/edit",
                                    json={
                                        "version": item["version"],
                                        "choice": item["choice"],
                                        "answer": (item["answer"] or "要確認") + f" ({n}-{step})",
                                    },
                                )
                                item = response.json() if response.status_code == 200 else item
                            elif action == "accept":
                                response = http.post(
                                    f"/api/items/{item['id']}/accept", json={"version": item["version"]}
                                )
                            else:
                                response = http.post(f"/api/items/{item['id']}/comments", json={"text": f"ok {step}"})
                            elapsed = (time.perf_counter() - started) * 1000
                            with lock:
                                timings[action].append(elapsed)
                                if response.status_code >= 400:
                                    errors.append(f"{action} {response.status_code}")

            started = time.perf_counter()
            threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(args.reviewers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)

    total = sum(len(v) for v in timings.values())
    print(
        f"{args.reviewers} reviewers, think time {args.think:g} s, {total} review actions in {wall:.1f} s "
        f"({total / wall:.0f}/s), "
        f"{len(errors)} errors" + (f" (e.g. {errors[0]})" if errors else "")
    )
    for action, values in timings.items():
        print(f"  {action:<8} p50 {statistics.median(values):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms")
    everything = [v for values in timings.values() for v in values]
    print(f"  {'all':<8} p50 {statistics.median(everything):6.1f} ms   p95 {percentile(everything, 0.95):6.1f} ms")


if __name__ == "__main__":
    main()
