"""Notifications: an in-app row and an e-mail in the outbox for everyone who must act or
should know. Written in the same transaction as the transition. E-mails carry no contact
details (they may be printed to the log in demo mode); they link to the page that shows them."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from models import EmailMessage, Match, MatchStatus, Notification, Role, User

# Which parties hear about each state: (expert, enterprise, coordinator).
AUDIENCE = {
    MatchStatus.PROPOSED: (True, True, False),
    MatchStatus.EXPERT_ACCEPTED: (False, True, False),
    MatchStatus.ENTERPRISE_ACCEPTED: (True, False, False),
    MatchStatus.CONNECTED: (True, True, True),
    MatchStatus.EXPERT_DECLINED: (False, True, True),
    MatchStatus.ENTERPRISE_DECLINED: (True, False, True),
    MatchStatus.INTENT: (True, True, True),
    MatchStatus.CONTRACT: (True, True, True),
    MatchStatus.COMPLETED: (True, True, True),
    MatchStatus.CLOSED: (True, True, True),
}


def message(kind: str) -> str:
    """The sentence for a notification kind, in the current locale."""
    return {
        "proposed": _("A coordinator proposed a match. Please accept or decline."),
        "expert_accepted": _("The expert accepted. Please give your answer."),
        "enterprise_accepted": _("The enterprise accepted. Please give your answer."),
        "connected": _("Both sides accepted: contact details are now visible."),
        "expert_declined": _("The expert declined the proposal."),
        "enterprise_declined": _("The enterprise declined the proposal."),
        "intent": _("A cooperation intent was recorded."),
        "contract": _("A contract was signed."),
        "completed": _("The cooperation was completed."),
        "closed": _("The match was closed."),
    }.get(kind, kind)


def recipients(session: Session, match: Match, status: MatchStatus) -> list[User]:
    to_expert, to_enterprise, to_coordinator = AUDIENCE.get(status, (False, False, False))
    users: list[User] = []
    if to_expert and match.expert.user is not None:
        users.append(match.expert.user)
    if to_enterprise:
        users.extend(session.scalars(sa.select(User).where(User.organization_id == match.need.organization_id,
                                                          User.role == Role.ENTERPRISE)))
    if to_coordinator and match.proposed_by is not None:
        users.append(match.proposed_by)
    return users


def notify_match(session: Session, match: Match, status: MatchStatus, actor: User | None) -> None:
    for user in recipients(session, match, status):
        if actor is not None and user.id == actor.id:
            continue
        session.add(Notification(user_id=user.id, kind=status.value, match_id=match.id, need_id=match.need_id))
        with force_locale(user.locale or "zh"):
            subject = _("[Matchmaking] %(title)s", title=match.need.title[:80])
            link = _match_link(user, match)
            body = f"{message(status.value)}\n\n{match.need.title}\n{link}\n"
        session.add(EmailMessage(recipient=user.email, subject=subject, body=body))


def _match_link(user: User, match: Match) -> str:
    """An absolute link built on the configured external URL (``MATCHER_BASE_URL``), never on
    the request's Host header, which the caller chooses; the same inside and outside requests."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build("matches.detail", {"match_id": match.id}, force_external=True)


def notifications_for(user: User, limit: int = 100) -> list[Notification]:
    from models import db

    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def unread_count(user: User) -> int:
    from models import db

    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0)


def mark_all_read(user: User) -> None:
    from models import utcnow, write_transaction

    with write_transaction() as session:
        session.execute(sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
                        .values(read_at=utcnow()))
