"""Drafting throughput of the scaled setup with 1 and 2 workers, and the API's p95 meanwhile.

    python eval/bench_scaled.py [--questions 300]

Uses PostgreSQL (127.0.0.1:5432, a fresh database), Redis (127.0.0.1:6379) and a Chroma server it
starts (`chroma run` on a free loopback port). For each worker count: upload a questionnaire of N
questions through the API, time until every question is drafted, and meanwhile time review
reads and writes from 5 reviewers. Traffic stays on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))
PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def run(workers: int, questions: int) -> None:
    from bench_draft import questionnaire_bytes
    from fastapi.testclient import TestClient

    from service.accounts.service import create_token, create_user, set_role
    from service.api import create_app
    from service.db import session_scope
    from service.settings import Settings

    name = f"kotae_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    namespace = f"kotae-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        chroma = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("chroma")),
                "run",
                "--path",
                f"{tmp}/chroma",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3)
        env = dict(
            os.environ,
            KOTAE_HOME=f"{tmp}/home",
            KOTAE_DATABASE_URL=url,
            KOTAE_VECTOR_STORE="chroma_http",
            KOTAE_CHROMA_URL=f"http://127.0.0.1:{port}",
            KOTAE_QUEUE_URL=REDIS_URL,
            KOTAE_QUEUE_NAMESPACE=namespace,
            ANONYMIZED_TELEMETRY="False",
        )
        settings = Settings(
            home=Path(tmp) / "home",
            database_url=url,
            vector_store="chroma_http",
            chroma_url=f"http://127.0.0.1:{port}",
            queue_url=REDIS_URL,
            queue_namespace=namespace,
        )
        with session_scope(url) as session:
            user = create_user(session, "bench@kotae.test", "bench password 123")
            set_role(session, user, "bench", "admin")
            token = create_token(session, user)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "service.cli.main", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        try:
            client = TestClient(create_app(settings))
            headers = {"Authorization": f"Bearer {token}"}
            seeds = ROOT.parent / "shared" / "seeds"
            files = [("files", (p.name, p.read_bytes())) for p in sorted(seeds.iterdir())]
            client.post("/api/workspaces/bench/kb/files", files=files, headers=headers).raise_for_status()
            time.sleep(8)  # workers load the model and sync the vectors
            started = time.perf_counter()
            qid = client.post(
                "/api/workspaces/bench/questionnaires",
                headers=headers,
                files={"file": ("bench.xlsx", questionnaire_bytes(questions))},
            ).json()["id"]
            latencies: dict[str, list[float]] = {"read": [], "write": []}
            stop = threading.Event()

            def reviewer() -> None:
                while not stop.is_set():
                    t = time.perf_counter()
                    items = client.get(f"/api/questionnaires/{qid}/items?status=drafted", headers=headers).json()
                    latencies["read"].append((time.perf_counter() - t) * 1000)
                    if items:
                        item = items[len(items) // 2]
                        t = time.perf_counter()
                        client.post(f"/api/items/{item['id']}/comments", json={"text": "ok"}, headers=headers)
                        latencies["write"].append((time.perf_counter() - t) * 1000)
                    time.sleep(0.5)

            threads = [threading.Thread(target=reviewer) for _ in range(5)]
            for thread in threads:
                thread.start()
            while client.get(f"/api/questionnaires/{qid}", headers=headers).json()["status"] not in ("done", "failed"):
                time.sleep(0.25)
            elapsed = time.perf_counter() - started
            stop.set()
            for thread in threads:
                thread.join()
            print(
                f"{workers} worker(s): {questions} questions in {elapsed:.1f} s = {questions / elapsed:.1f} q/s; "
                f"API while drafting: reads p50 {statistics.median(latencies['read']):.0f} ms "
                f"p95 {p95(latencies['read']):.0f} ms, writes p95 {p95(latencies['write']):.0f} ms"
            )
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=30)
            chroma.terminate()
            chroma.wait(timeout=30)
            r = redis.Redis.from_url(REDIS_URL)
            for key in r.scan_iter(f"{namespace}*"):
                r.delete(key)
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    for workers in (1, 2):
        run(workers, args.questions)


if __name__ == "__main__":
    main()
