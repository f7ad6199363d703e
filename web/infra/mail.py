"""E-mail delivery from the outbox: SMTP when MAIL_SERVER is set, the log otherwise (demo).

Messages are written by the lifecycle in the same transaction as the change; this dispatcher
sends them later and records the outcome, so a slow or failing mail server never blocks or
rolls back a user's action. Recipients are masked in the log.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from email.message import EmailMessage as MimeMessage

import sqlalchemy as sa

from models import EmailMessage, db, utcnow

log = logging.getLogger("matcher.mail")
MAX_ATTEMPTS = 5


def mask(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def deliver_pending(config: dict, limit: int = 50) -> int:
    """Send up to ``limit`` unsent messages; returns how many were sent."""
    pending = list(db.session.scalars(
        sa.select(EmailMessage).where(EmailMessage.sent_at.is_(None), EmailMessage.attempts < MAX_ATTEMPTS)
        .order_by(EmailMessage.id).limit(limit)))
    sent = 0
    for message in pending:
        message.attempts += 1
        try:
            if config.get("MAIL_SERVER"):
                _smtp_send(config, message)
            else:
                log.info("email (demo mode, not sent) to=%s subject=%s\n%s", mask(message.recipient), message.subject, message.body)
            message.sent_at = utcnow()
            message.last_error = ""
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("email_failed id=%s attempt=%s error=%s", message.id, message.attempts, type(exc).__name__)
        db.session.commit()
    return sent


def _smtp_send(config: dict, message: EmailMessage) -> None:
    mime = MimeMessage()
    mime["From"] = config["MAIL_SENDER"]
    mime["To"] = message.recipient
    mime["Subject"] = message.subject
    mime.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(mime)


def run(app, stop: threading.Event, poll_seconds: float = 5.0) -> None:
    with app.app_context():
        while not stop.is_set():
            try:
                deliver_pending(app.config)
            except sa.exc.SQLAlchemyError:
                db.session.rollback()
                log.exception("mail dispatch failed")
            finally:
                db.session.remove()
            stop.wait(poll_seconds)


def start_mail_thread(app) -> threading.Thread:
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(app, stop), name="matcher-mail", daemon=True)
    thread.stop_event = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
