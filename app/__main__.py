"""Command line: python -m app {dev,serve,worker,beat,migrate,services,tenants,demo}."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from app.core.config import PROJECT_ROOT, get_settings

ALL_QUEUES = ("agents.sdr,agents.sales,agents.negotiation,agents.finance,agents.coaching,"
              "agents.echo,pipeline,email,webhooks,knowledge,maintenance")


def _alembic_config():
    from alembic.config import Config

    return Config(str(PROJECT_ROOT / "alembic.ini"))


def cmd_migrate(args: argparse.Namespace) -> int:
    from alembic import command

    command.upgrade(_alembic_config(), args.revision)
    print(f"database migrated to {args.revision}")
    return 0


def cmd_services(args: argparse.Namespace) -> int:
    from app.core import embedded

    if args.action == "up":
        urls = embedded.up()
        print(json.dumps({"status": embedded.status(), "redis_url": urls.redis_url}, indent=2))
    elif args.action == "down":
        embedded.down()
        print(json.dumps(embedded.status(), indent=2))
    else:
        print(json.dumps(embedded.status(), indent=2))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_config=None, proxy_headers=True)
    return 0


def _celery(*celery_args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.celery_app", *celery_args]


def cmd_worker(args: argparse.Namespace) -> int:
    argv = ["worker", "--loglevel", get_settings().log_level, "-Q", args.queues, "--concurrency", str(args.concurrency)]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    settings = get_settings()
    if settings.worker_metrics_port:
        # Pool children count in files that the main process aggregates (prometheus multiprocess mode);
        # the variable must be set before prometheus_client is first imported, hence here.
        metrics_dir = settings.data_dir / "prometheus" / f"worker-{settings.worker_metrics_port}"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.execv(sys.executable, _celery(*argv))


def cmd_beat(args: argparse.Namespace) -> int:
    schedule = get_settings().data_dir / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    os.execv(sys.executable, _celery("beat", "--loglevel", get_settings().log_level, "--schedule", str(schedule)))


def cmd_tenants(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.tenants.schemas import TenantCreate

    try:
        request = TenantCreate(name=args.name, admin_email=args.admin_email, admin_password=args.admin_password,
                               timezone=args.timezone, slug=args.slug)
    except ValidationError as exc:
        for error in exc.errors():
            option = "--" + "-".join(str(part) for part in error["loc"]).replace("_", "-")
            print(f"error: {option}: {error['msg']}", file=sys.stderr)
        return 2

    from app.core.db import session_scope
    from app.core.errors import AppError
    from app.tenants.service import create_tenant

    try:
        with session_scope() as session:
            tenant, owner = create_tenant(session, **request.model_dump())
    except AppError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    print(json.dumps({"tenant_id": str(tenant.id), "admin_user_id": str(owner.id)}))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.demo import run_demo

    return run_demo(args.base_url)


def _wait_ready(base_url: str, processes: list[subprocess.Popen], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise SystemExit("a service exited during start-up; see the output above")
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the API did not become ready at {base_url} within {timeout:.0f}s")


def cmd_dev(args: argparse.Namespace) -> int:
    from app.core import embedded

    settings = get_settings()
    # Stop on exit only what this command started: services that were already up (another shell's
    # `services up`, a test run) keep serving whoever else uses them.
    was_running = embedded.status(settings)
    started_services = not (settings.database_url and settings.redis_url) and "stopped" in was_running.values()
    if not (settings.database_url and settings.redis_url):
        embedded.up(settings)
        print("embedded PostgreSQL and Redis are up (data in .data/)")
    cmd_migrate(argparse.Namespace(revision="head"))
    base_url = f"http://127.0.0.1:{args.port}"
    quiet = {**os.environ, "LOG_LEVEL": os.environ.get("WORKER_LOG_LEVEL", "WARNING")}
    processes = [
        subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", str(args.port)]),
        # The worker and beat log every task at INFO; in development that drowns the API's own log.
        subprocess.Popen([sys.executable, "-m", "app", "worker", "--concurrency", "2"], env=quiet),
        subprocess.Popen([sys.executable, "-m", "app", "beat"], env=quiet),
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping API, worker and beat ...")
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        if started_services:
            embedded.down(settings)
            print("embedded services stopped")

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        _wait_ready(base_url, processes)
        if not args.no_demo:
            cmd_demo(argparse.Namespace(base_url=base_url))
        print(f"\nAgentline is running: {base_url}  (API docs: {base_url}/docs). Ctrl-C stops everything.")
        _print_console(base_url, demo=not args.no_demo)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        print("a service exited; shutting down")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


def _print_console(base_url: str, *, demo: bool) -> None:
    print(f"The console: {base_url}/console/")
    if demo:
        from app.demo import DEMO_PASSWORD, DEMO_ROLES, demo_email

        print("  sign in as " + ", ".join(demo_email(role) for role in DEMO_ROLES))
        print(f"  password {DEMO_PASSWORD}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Agentline command line")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="embedded services, migrations, API, worker, beat and the demo")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--no-demo", action="store_true")
    dev.set_defaults(func=cmd_dev)

    serve = sub.add_parser("serve", help="the HTTP API")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="a Celery worker")
    worker.add_argument("--queues", default=ALL_QUEUES)
    worker.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    worker.add_argument("--hostname", default=None)
    worker.set_defaults(func=cmd_worker)

    beat = sub.add_parser("beat", help="the Celery beat scheduler (relay, reaper, weekly coaching)")
    beat.set_defaults(func=cmd_beat)

    migrate = sub.add_parser("migrate", help="alembic upgrade")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=cmd_migrate)

    services = sub.add_parser("services", help="the embedded PostgreSQL and Redis")
    services.add_argument("action", choices=["up", "down", "status"])
    services.set_defaults(func=cmd_services)

    tenants = sub.add_parser("tenants", help="tenant administration")
    tenants_sub = tenants.add_subparsers(dest="tenants_command", required=True)
    create = tenants_sub.add_parser("create", help="create a tenant and its owner")
    create.add_argument("--name", required=True)
    create.add_argument("--admin-email", required=True)
    create.add_argument("--admin-password", required=True)
    create.add_argument("--timezone", default="UTC")
    create.add_argument("--slug", default=None)
    create.set_defaults(func=cmd_tenants)

    demo = sub.add_parser("demo", help="seed the demo tenant and drive the pipeline through the API")
    demo.add_argument("--base-url", default="http://127.0.0.1:8000")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from app.core.embedded import ServicesNotRunning

    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ServicesNotRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
