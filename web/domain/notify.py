"""Notifications: an in-app row and an e-mail in the outbox for everyone who must act or
should know. Written in the same transaction as the transition. E-mails carry no contact
details (they may be printed to the log in demo mode); they link to the page that shows them. Who is told of which transition is the lifecycle table's
(``lifecycle.TRANSITIONS``, column ``tell``)."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from models import EmailMessage, Match, MatchStatus, Notification, Role, User

from .lifecycle import Side


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
        "need_withdrawn": _("The enterprise withdrew the need, so the match was closed."),
        "signup_pending": _("A new account is waiting for approval."),
        "need_posted": _("A new need was posted. Please review it."),
        "contract_by_expert": _("The expert recorded a signed contract. It counts once the enterprise (or a coordinator) confirms it."),
        "contract_by_enterprise": _("The enterprise recorded a signed contract. It counts once the expert (or a coordinator) confirms it."),
        "completed_by_expert": _("The expert recorded the cooperation as completed. It counts once the enterprise (or a coordinator) "
                                 "confirms it."),
        "completed_by_enterprise": _("The enterprise recorded the cooperation as completed. It counts once the expert (or a "
                                     "coordinator) confirms it."),
        "reject_contract": _("The recorded contract was rejected; the match is back at the cooperation intent."),
        "reject_completed": _("The recorded completion was rejected; the match is back at the signed contract."),
        "need_interest": _("An expert is interested in a need. Consider proposing the expert."),
    }.get(kind, kind)


def about(match: Match, user: User, *, mail: bool = False) -> str:
    """Which need and which other party a notification is about, as ``user`` may see them:
    an anonymous need's enterprise stays unnamed to the expert until the match is connected,
    and always in an e-mail (which may be printed to the log)."""
    expert = _("expert %(name)s", name=match.expert.name)
    revealed = match.connected_at is not None and not mail
    if revealed or not match.need.anonymous or user.role != Role.EXPERT:
        enterprise = _("enterprise %(name)s", name=match.need.organization.name)
    else:
        enterprise = _("an enterprise that stays anonymous until both sides accept")
    if user.role == Role.EXPERT:
        other = enterprise
    elif user.role == Role.ENTERPRISE:
        other = expert
    else:
        other = f"{expert} · {enterprise}"
    return _("Need “%(title)s” · %(other)s", title=match.need.title, other=other)


def about_notification(notification: Notification, user: User) -> str:
    """:func:`about` for an in-app notification of a match ("" for other notifications)."""
    from models import db

    match = db.session.get(Match, notification.match_id) if notification.match_id else None
    return about(match, user) if match is not None else ""


def recipients(session: Session, match: Match, tell: Collection[Side]) -> list[User]:
    """The users behind the sides the lifecycle table says are told."""
    users: list[User] = []
    if Side.EXPERT in tell and match.expert.user is not None:
        users.append(match.expert.user)
    if Side.ENTERPRISE in tell:
        users.extend(session.scalars(sa.select(User).where(User.organization_id == match.need.organization_id,
                                                          User.role == Role.ENTERPRISE)))
    if Side.COORDINATOR in tell and match.proposed_by is not None:
        users.append(match.proposed_by)
    return users


def notify_match(session: Session, match: Match, status: MatchStatus, actor: User | None, *, tell: Collection[Side],
                 kind: str | None = None) -> None:
    """Tell ``tell`` (never the actor) that ``match`` reached ``status``; ``kind`` names the
    message when it is not the status's own (a withdrawn need)."""
    kind = kind or status.value
    for user in recipients(session, match, tell):
        if actor is not None and user.id == actor.id:
            continue
        session.add(Notification(user_id=user.id, kind=kind, match_id=match.id, need_id=match.need_id))
        with force_locale(user.locale or "zh"):
            subject = _("[Matchmaking] %(title)s", title=match.need.title[:80])
            link = _match_link(user, match)
            body = f"{message(kind)}\n\n{about(match, user, mail=True)}\n{link}\n"
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
