"""``flask --app wsgi ...`` commands: users, demo data, the matcher index."""

from __future__ import annotations

import sys
import threading

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from models import AccountStatus, Role

from .domain.errors import ValidationError

users_cli = AppGroup("users", help="Manage accounts.")
demo_cli = AppGroup("demo", help="The demo dataset.")
matcher_cli = AppGroup("matcher", help="The matching index.")


@users_cli.command("create")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="at least 8 characters, not a common password (asked for when not given)")
@click.option("--name", required=True, help="person's name; for an enterprise also its organisation's name")
def create_user_command(role: str, email: str, password: str, name: str) -> None:
    """Create an active account."""
    from .domain.accounts import create_user

    try:
        user = create_user(role=Role(role), email=email, password=password, name=name, status=AccountStatus.ACTIVE)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {user.role.value} account {user.email} (id {user.id})")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="do nothing (exit 0) when the database already has data")
def demo_load_command(if_empty: bool) -> None:
    """Load data/demo into an empty database (demo and test configurations only)."""
    from .infra.demo import database_is_empty, load_demo, read_dataset
    from .infra.demo_credentials import save_credentials

    if not (current_app.config.get("DEMO_MODE") or current_app.config.get("TESTING")):
        raise click.ClickException("demo accounts exist only in demo mode (MATCHER_ENV=development); refusing")
    if if_empty and not database_is_empty():
        click.echo("database already has data; demo not loaded")
        return
    try:
        password, logins = load_demo(read_dataset())
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    save_credentials(current_app.instance_path, password, logins)
    click.echo(f"demo dataset loaded; {len(logins)} showcase accounts share one generated password")


@demo_cli.command("credentials")
def demo_credentials_command() -> None:
    """Print how to sign in as each demo role."""
    from .infra.demo_credentials import describe_credentials

    click.echo(describe_credentials(current_app.instance_path))


def _backfill(quiet: bool, batch_size: int | None, reason: str) -> None:
    from .matching.backfill import job_progress, plan_job
    from .matching.backfill_queue import run_job
    from .matching.indexing import publish_job

    job, resumed = plan_job(reason, batch_size=batch_size)
    progress = job_progress(job)
    click.echo(f"{'resuming' if resumed else 'started'} backfill job {job.id}: {progress['done']} of "
               f"{progress['total']} texts embedded, {progress['batches']} batches, "
               + (f"workers on {current_app.config['BACKFILL_QUEUE']}" if current_app.config["BACKFILL_BROKER_URL"]
                  else "in this process"))
    bar = None
    if not quiet and job.total_texts:
        from tqdm import tqdm

        bar = tqdm(total=job.total_texts, initial=job.done_texts, unit="text", desc=f"backfill {job.id}",
                   dynamic_ncols=True, smoothing=0.1)

    def show(current) -> None:
        if bar is not None and current.done_texts != bar.n:
            bar.update(current.done_texts - bar.n)

    job = run_job(job.id, show)
    if bar is not None:
        bar.close()
    progress = job_progress(job)
    click.echo(f"backfill job {job.id} {job.state}: {progress['done']} texts, {progress['embedded']} embedded")
    if job.state == "embedded":
        click.echo(publish_job(job.id))


@matcher_cli.command("reindex")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None, help="texts per batch (MATCHER_BACKFILL_BATCH)")
def reindex_command(quiet: bool, batch_size: int | None) -> None:
    """Embed what the store lacks (a resumable backfill job; workers if a broker is set), then
    rebuild the index from the store and publish it. Suggestions keep coming from the last
    snapshot meanwhile; run it again after a crash to resume."""
    _backfill(quiet, batch_size, "reindex command")


@matcher_cli.command("backfill")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=None, help="texts per batch (MATCHER_BACKFILL_BATCH)")
def backfill_command(quiet: bool, batch_size: int | None) -> None:
    """The same job as ``reindex``: when an indexer is running, it publishes the snapshot at
    its next poll once every batch is done."""
    _backfill(quiet, batch_size, "backfill command")


@matcher_cli.command("indexer")
@click.option("--once", is_flag=True, help="start (rebuilding if needed), drain the outbox once, exit")
def indexer_command(once: bool) -> None:
    """Run the single index writer (production: its own process)."""
    from .matching.indexing import Indexer, IndexerBusy

    indexer = Indexer(current_app.config["INDEX_DIR"], current_app.config["MATCHER_EMBEDDING_MODEL"])
    try:
        indexer.acquire()
    except IndexerBusy as exc:
        raise click.ClickException(str(exc)) from None
    try:
        click.echo(indexer.start())
        if once:
            click.echo(f"applied {indexer.drain()} outbox rows")
            return
        stop = threading.Event()
        try:
            indexer.run(stop, current_app.config["INDEX_POLL_SECONDS"])
        except KeyboardInterrupt:
            stop.set()
    finally:
        indexer.release()


@matcher_cli.command("train-ranker")
@click.option("--min-decisions", default=20, show_default=True, help="decisions (proposals and dismissals) needed before training")
def train_ranker_command(min_decisions: int) -> None:
    """Learn ranking weights from coordinator decisions; activate only if better on newer ones."""
    from .matching.ranking import train

    report = train(min_decisions=min_decisions)
    click.echo(report.message)
    if report.weights:
        click.echo("weights: " + ", ".join(f"{k}={v:.3f}" for k, v in report.weights.items()))


@matcher_cli.command("status")
def status_command() -> None:
    """Print the health report (database, index, lag) as JSON."""
    import json

    from .infra.health import health_report

    report = health_report()
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    sys.exit(0 if report["status"] == "ok" else 1)




mail_cli = AppGroup("mail", help="The e-mail outbox.")


@mail_cli.command("dispatch")
@click.option("--once", is_flag=True, help="send what is pending and exit")
def mail_dispatch_command(once: bool) -> None:
    """Send queued e-mails (SMTP when MAIL_SERVER is set, the log otherwise)."""
    from .infra.mail import deliver_pending, run

    if once:
        click.echo(f"sent {deliver_pending(current_app.config, limit=1000)} message(s)")
        return
    stop = threading.Event()
    try:
        run(current_app._get_current_object(), stop)
    except KeyboardInterrupt:
        stop.set()


@mail_cli.command("digest")
def mail_digest_command() -> None:
    """Queue one digest per coordinator: sign-ups awaiting approval and needs new since the
    last digest, in the coordinator's language (run it e.g. daily; a rerun queues nothing new)."""
    from .domain.coordinator_news import queue_digests

    click.echo(f"queued {queue_digests()} digest(s); `flask mail dispatch --once` sends them")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(matcher_cli)
    app.cli.add_command(mail_cli)
