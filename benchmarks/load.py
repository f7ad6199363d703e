"""The whole service under mixed load. Prints one JSON object; never asserts.

    python -m benchmarks.load --users 50 --seconds 120 --db sqlite --json
    python -m benchmarks.load --users 50 --seconds 120 --db postgresql --json

1. A fresh instance in a temporary directory; with ``--db postgresql`` also a fresh database
   ``matcher_load_<random>`` on 127.0.0.1:5432 (user postgres), dropped at the end, also on failure.
2. Prepared with the project's own commands: ``flask --app wsgi db upgrade``, ``flask --app wsgi
   demo load`` (MATCHER_ENV=development; the generated demo password is read from the instance's
   demo-credentials.json), ``flask --app wsgi matcher indexer --once``.
3. gunicorn (``gunicorn.conf.py``) on 127.0.0.1 and a free port. SQLite: the embedded default
   (MATCHER_INDEXER=thread, one worker with threads, the indexer a thread of it). PostgreSQL: the
   production shape (MATCHER_ENV=production, a random SECRET_KEY, MATCHER_INDEXER=process,
   gunicorn's worker count, the rate limiter's counters in Redis, and a separate
   ``flask --app wsgi matcher indexer`` process). Waits for /healthz and a loaded index.
4. locust as a library (one gevent process on loopback, sharing the CPU with the server) drives
   coordinators, enterprises and experts (weights 1:2:2) who sign in with the demo accounts
   through ``POST /api/v1/auth/login`` and then act with their bearer token: browse needs, view
   suggestions, read and edit profiles, add achievements, post and edit needs, propose matches
   (coordinator; a pair of a simulated enterprise's need and a simulated expert, preferring an
   expert among the need's suggestions), answer proposals (expert and enterprise) and record
   outcomes. Every other user also signs in through the HTML form and reads pages with its
   session cookie (sent explicitly: production marks it Secure and the load runs over plain
   HTTP). Mostly reads; think time 1-3 s; one new user (and its sign-in: argon2, about 0.4 s of
   CPU) per second. Each simulated user connects from its own loopback address (127.x.y.z), as
   real users come from their own addresses; sign-in is rate-limited per address. Like a
   browser, a request is sent again once when a kept-alive connection was closed under it
   (gunicorn closes idle ones after 2 s); such retries are counted (``client_retries``).
5. After the run, how long until /healthz ``index_lag`` (outbox rows not yet applied) is 0 again.
6. One JSON object: latency percentiles over every request (``p95_pages_ms``: every request but
   the suggestion ones, sign-ins included; ``p95_suggest_ms``: the API suggestions and the
   coordinator's need page, which ranks experts too; ``after_ramp``: the same once every user has
   started), errors (5xx, unexpected 4xx, connection failures) with the first few examples
   (status and URL, no contact details), ``conflicts`` (409 answers to transitions that raced or
   were refused by a business rule: expected, not errors), per-endpoint figures, ERROR lines of
   the server log, and where the CPU went (server, indexer, load generator, and other processes
   of the machine: a busy machine makes the figures meaningless).
7. Every process it started is stopped and the temporary instance removed (``--keep`` keeps it).

Targets (README; not asserted): 0 errors, p95 <= 150 ms for pages without suggestions,
p95 <= 300 ms for suggestion pages, index lag back to 0 within 60 s.

Modules: ``load_service`` (instance, database, processes, CPU), ``load_users`` (the simulated
users), ``load_plan`` (what they share), ``load_record`` (what each request did); the shared
harness is ``benchmarks.harness``.
"""

from __future__ import annotations

import locust  # noqa: F401  (first: importing locust monkey-patches the standard library for gevent)

# isort: split
import argparse
import json
import logging
import os
import signal
import sys
import time

import gevent
from locust import between
from locust.env import Environment

from benchmarks.load_plan import Plan, demo_accounts
from benchmarks.load_record import Recorder, percentile
from benchmarks.load_service import CpuMeter, Service, log
from benchmarks.load_users import Coordinator, Enterprise, Expert


# -- the run ---------------------------------------------------------------------------------------
def drive(url: str, plan: Plan, users: int, seconds: float, spawn_rate: float) -> tuple[Recorder, float, float]:
    """Run the users; returns what was recorded, the run's length and its start (time.time())."""
    recorder = Recorder()
    logging.getLogger("urllib3.connectionpool").addHandler(recorder.retries)
    classes = [Coordinator, Enterprise, Expert]
    for cls in classes:
        cls.plan = plan
        cls.host = url
        cls.wait_time = between(*plan.wait)
    env = Environment(user_classes=classes, host=url)
    env.events.request.add_listener(recorder.on_request)
    env.events.user_error.add_listener(recorder.on_user_error)
    runner = env.create_local_runner()
    started, wall = time.perf_counter(), time.time()
    runner.start(users, spawn_rate=spawn_rate)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    return recorder, time.perf_counter() - started, wall


def report(args: argparse.Namespace, service: Service, recorder: Recorder, run: tuple[float, float],
           lag: tuple[float | None, int | None], timings: dict[str, float], cpu: dict) -> dict:
    elapsed, started = run
    all_ms = sorted(ms for _, _, ms, _ in recorder.samples)
    pages = sorted(ms for kind, _, ms, _ in recorder.samples if kind != "suggest")
    suggest = sorted(ms for kind, _, ms, _ in recorder.samples if kind == "suggest")
    logins = sorted(ms for kind, _, ms, _ in recorder.samples if kind == "login")
    # Once every user has started (and signed in: about 0.4 s of argon2 per sign-in).
    ramp_end = started + args.users / args.spawn_rate + 5
    steady = [(kind, ms) for kind, _, ms, at in recorder.samples if at >= ramp_end]
    steady_pages = sorted(ms for kind, ms in steady if kind != "suggest")
    steady_suggest = sorted(ms for kind, ms in steady if kind == "suggest")
    endpoints = {}
    for name in sorted(recorder.by_name):
        values = sorted(recorder.by_name[name])
        endpoints[name] = {"n": len(values), "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
                           "max_ms": round(values[-1], 1), "errors": recorder.errors_by_name.get(name, 0)}
    return {
        "db": args.db,
        "users": args.users,
        "seconds": args.seconds,
        "requests": len(all_ms),
        "rps": round(len(all_ms) / elapsed, 1) if elapsed else None,
        "p50_ms": percentile(all_ms, 50),
        "p95_ms": percentile(all_ms, 95),
        "p99_ms": percentile(all_ms, 99),
        "p95_pages_ms": percentile(pages, 95),
        "p95_suggest_ms": percentile(suggest, 95),
        "errors": recorder.errors,
        "error_examples": recorder.error_examples,
        "index_lag_after_s": lag[0],
        "index_lag_at_stop": lag[1],
        "suggest_requests": len(suggest),
        "p95_pages_excl_login_ms": percentile(sorted(ms for kind, _, ms, _ in recorder.samples if kind == "page"), 95),
        "p95_login_ms": percentile(logins, 95),
        "after_ramp": {"from_s": round(ramp_end - started, 1), "requests": len(steady),
                       "p95_pages_ms": percentile(steady_pages, 95), "p95_suggest_ms": percentile(steady_suggest, 95)},
        "client_retries": recorder.retries.count,
        "client_retry_examples": recorder.retries.examples,
        "conflicts": recorder.conflicts,
        "conflict_examples": recorder.conflict_examples,
        "harness_errors": recorder.harness_errors,
        **service.log_problems(),
        "server": {"shape": "production" if service.production else "embedded", "workers": service.workers,
                   "gunicorn_args": args.gunicorn_args or None,
                   "threads": 8, "indexer": "process" if service.production else "thread",
                   "notes": service.notes},
        "cpu": cpu,
        "load": {"spawn_rate": args.spawn_rate, "wait_s": [args.wait_min, args.wait_max], "html_share": args.html_share,
                 "cpus": os.cpu_count()},
        "prepare_s": round(timings["prepare"], 1),
        "start_s": round(timings["start"], 1),
        "endpoints": endpoints,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--spawn-rate", type=float, default=1, help="users started (and signed in) per second")
    parser.add_argument("--wait-min", type=float, default=1.0, help="think time between a user's actions (s)")
    parser.add_argument("--wait-max", type=float, default=3.0)
    parser.add_argument("--html-share", type=float, default=0.5, help="share of users who also read HTML pages")
    parser.add_argument("--workers", type=int, default=0, help="PostgreSQL: gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--lag-timeout", type=float, default=60)
    parser.add_argument("--start-timeout", type=float, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-admin", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                        help="libpq connection string used to create and drop the database")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="DATABASE_URL of the server, without the database name")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0",
                        help="PostgreSQL run: REDIS_URL for the rate limiter ('' for per-worker memory)")
    parser.add_argument("--gunicorn-args", default="", help="experiments: extra gunicorn options (GUNICORN_CMD_ARGS)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance and server log")
    args = parser.parse_args(argv)

    # SIGTERM ends the run like Ctrl-C does: in the main greenlet, so the clean-up below runs.
    main_greenlet = gevent.get_hub().parent
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(SystemExit(128 + signal.SIGTERM)))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="[locust] %(levelname)s %(name)s %(message)s")

    enterprises, experts = demo_accounts()
    service = Service(args)
    try:
        log(f"instance {service.tmp}, db {args.db}")
        password, prepare_s = service.prepare()
        start_s = service.start()
        log(f"{service.url} ready ({service.workers} worker(s)) after {prepare_s:.0f} s preparing and {start_s:.0f} s starting")
        plan = Plan(password=password, enterprises=enterprises, experts=experts, seed=args.seed, html_share=args.html_share,
                    wait=(args.wait_min, args.wait_max))
        log(f"{args.users} users for {args.seconds:.0f} s (load average now {os.getloadavg()[0]:.1f})")
        meter = CpuMeter(service)
        recorder, elapsed, started = drive(service.url, plan, args.users, args.seconds, args.spawn_rate)
        cpu = meter.report()
        log(f"{len(recorder.samples)} requests, {recorder.errors} errors; waiting for the index to catch up")
        lag = service.wait_for_index(args.lag_timeout)
        result = report(args, service, recorder, (elapsed, started), lag, {"prepare": prepare_s, "start": start_s}, cpu)
    finally:
        service.close()
    print(json.dumps(result, ensure_ascii=False, indent=None if args.json else 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
