"""What coordinators are told without asking: new sign-ups awaiting approval, new needs and
experts' interest in open needs.

In-app: one notification per active coordinator, written in the same transaction as the
sign-up or the need. By e-mail: :func:`queue_digests` (``flask --app wsgi mail digest``)
queues one digest per coordinator in the outbox covering what is new since that coordinator's
previous digest (a :class:`models.DigestMark`), in the coordinator's language. Running it
again queues nothing until something new arrives. A digest names people, roles,
organisations and needs, which coordinators see anyway, and no contact details: e-mails may
be printed to the log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from models import (
    AccountStatus,
    DigestMark,
    EmailMessage,
    ExpertProfile,
    Need,
    NeedInterest,
    NeedStatus,
    Notification,
    Organization,
    Role,
    User,
    db,
    utcnow,
    write_transaction,
)

log = logging.getLogger("matcher.digest")

SIGNUP_PENDING = "signup_pending"
NEED_POSTED = "need_posted"
NEED_INTEREST = "need_interest"
NEED_KINDS = (NEED_POSTED, NEED_INTEREST)  # notifications that link to the coordinator's need page
DIGEST_LIST_LIMIT = 20


def coordinators(session: Session) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.role == Role.COORDINATOR, User.status == AccountStatus.ACTIVE)
                                .order_by(User.id)))


def tell_coordinators(session: Session, kind: str, *, need_id: int | None = None) -> int:
    """Inside the caller's write transaction: an in-app notification for every active coordinator."""
    told = coordinators(session)
    session.add_all(Notification(user_id=user.id, kind=kind, need_id=need_id) for user in told)
    return len(told)


def need_titles(viewer: User, items: list[Notification]) -> dict[int, str]:
    """Titles of the needs that "new need" and "interest" notifications point to (coordinators only)."""
    from ..access import is_staff

    ids = {n.need_id for n in items if n.kind in NEED_KINDS and n.need_id}
    if not ids or not is_staff(viewer):
        return {}
    return dict(db.session.execute(sa.select(Need.id, Need.title).where(Need.id.in_(ids))).all())


def external_link(endpoint: str, **values) -> str:
    """An absolute link on the configured external URL (``MATCHER_BASE_URL``), as in notify."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


@dataclass
class DigestContent:
    signups: list[tuple[User, str]]  # (account, organisation name or "")
    needs: list[tuple[Need, str]]  # (need, organisation name)
    signup_total: int
    need_total: int
    interests: list[tuple[Need, str]] = field(default_factory=list)  # (need, expert's name): names only, never contacts
    interest_total: int = 0

    @property
    def empty(self) -> bool:
        return not (self.signup_total or self.need_total or self.interest_total)


def digest_content(session: Session, since: datetime, until: datetime) -> DigestContent:
    """Sign-ups still awaiting approval and needs still open, created in (since, until]."""
    signup_where = (User.status == AccountStatus.PENDING, User.created_at > since, User.created_at <= until)
    need_where = (Need.status == NeedStatus.OPEN, Need.created_at > since, Need.created_at <= until)
    count = sa.func.count()
    signups = session.execute(
        sa.select(User, sa.func.coalesce(Organization.name, "")).outerjoin(Organization, Organization.id == User.organization_id)
        .where(*signup_where).order_by(User.created_at, User.id).limit(DIGEST_LIST_LIMIT)).all()
    needs = session.execute(
        sa.select(Need, Organization.name).join(Organization, Organization.id == Need.organization_id)
        .where(*need_where).order_by(Need.created_at, Need.id).limit(DIGEST_LIST_LIMIT)).all()
    interest_where = (NeedInterest.created_at > since, NeedInterest.created_at <= until, Need.status == NeedStatus.OPEN)
    interests = session.execute(
        sa.select(Need, ExpertProfile.name).select_from(NeedInterest).join(Need, Need.id == NeedInterest.need_id)
        .join(ExpertProfile, ExpertProfile.id == NeedInterest.expert_id)
        .where(*interest_where).order_by(NeedInterest.created_at, NeedInterest.id).limit(DIGEST_LIST_LIMIT)).all()
    return DigestContent(
        [(u, o) for u, o in signups], [(n, o) for n, o in needs],
        int(session.scalar(sa.select(count).select_from(User).where(*signup_where)) or 0),
        int(session.scalar(sa.select(count).select_from(Need).where(*need_where)) or 0),
        [(n, e) for n, e in interests],
        int(session.scalar(sa.select(count).select_from(NeedInterest).join(Need, Need.id == NeedInterest.need_id)
                           .where(*interest_where)) or 0))


def render_digest(user: User, content: DigestContent, since: datetime) -> tuple[str, str]:
    """Subject and body in the coordinator's language."""
    from ..labels import ROLE, label
    from ..templating import localtime

    with force_locale(user.locale or "zh"):
        subject = _("[Matchmaking] New since your last digest: %(needs)s need(s), %(signups)s sign-up(s) awaiting approval",
                    needs=content.need_total, signups=content.signup_total)
        if content.interest_total:
            subject += _(", %(count)s expression(s) of interest", count=content.interest_total)
        lines = [_("Hello %(name)s,", name=user.name), "",
                 _("What is new since %(since)s:", since=localtime(since))]
        if content.signup_total:
            lines += ["", _("Sign-ups awaiting approval (%(count)s):", count=content.signup_total)]
            for account, organization in content.signups:
                lines.append(f"- {account.name} · {label(ROLE, account.role)}" + (f" · {organization}" if organization else ""))
            if content.signup_total > len(content.signups):
                lines.append(_("… and %(count)s more", count=content.signup_total - len(content.signups)))
            lines.append(_("Approve or reject them: %(link)s", link=external_link("coordinator.accounts")))
        if content.need_total:
            lines += ["", _("New needs (%(count)s):", count=content.need_total)]
            for need, organization in content.needs:
                lines.append(f"- {need.title} · {organization}" + (f" · {need.region}" if need.region else ""))
                lines.append(f"  {external_link('coordinator.need_detail', need_id=need.id)}")
            if content.need_total > len(content.needs):
                lines.append(_("… and %(count)s more", count=content.need_total - len(content.needs)))
            lines.append(_("The review queue: %(link)s", link=external_link("coordinator.queue", age="new", sort="newest")))
        if content.interest_total:
            lines += ["", _("Experts interested in open needs (%(count)s):", count=content.interest_total)]
            for need, expert in content.interests:
                lines.append(f"- {expert} → {need.title}")
                lines.append(f"  {external_link('coordinator.need_detail', need_id=need.id)}")
            if content.interest_total > len(content.interests):
                lines.append(_("… and %(count)s more", count=content.interest_total - len(content.interests)))
        lines += ["", _("You receive this digest because you are a coordinator of the matchmaking service.")]
    return subject, "\n".join(lines) + "\n"


def queue_digests(now: datetime | None = None) -> int:
    """Queue one digest per active coordinator with something new since the last; returns
    how many were queued. Each coordinator's mark moves in the same transaction as the
    e-mail, so a rerun (or a concurrent run) never sends the same news twice."""
    now = now or utcnow()
    queued = 0
    for user_id in [u.id for u in coordinators(db.session)]:
        try:
            with write_transaction() as session:
                queued += _digest_for(session, user_id, now)
        except sa.exc.IntegrityError:  # another run wrote this coordinator's first mark meanwhile
            log.info("digest for user %s skipped: a concurrent run covered it", user_id)
    return queued


def _digest_for(session: Session, user_id: int, now: datetime) -> int:
    query = sa.select(DigestMark).where(DigestMark.user_id == user_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    mark = session.scalar(query.execution_options(populate_existing=True))
    user = session.get(User, user_id)
    since = mark.covered_until if mark is not None else user.created_at
    if since >= now:
        return 0
    content = digest_content(session, since, now)
    if mark is None:
        session.add(DigestMark(user_id=user_id, covered_until=now, sent_at=now))
    else:
        mark.covered_until, mark.sent_at = now, now
    if content.empty:
        return 0
    subject, body = render_digest(user, content, since)
    session.add(EmailMessage(recipient=user.email, subject=subject[:300], body=body))
    return 1
