"""What each viewer may see of needs, experts and matches — used by the HTML pages and the
JSON API alike, so the privacy rules exist once.

Contact fields (phone, e-mail, WeChat) of either side appear only for coordinators, for the
owner, or for the other side of a match that reached ``connected``. An anonymous need hides
its enterprise's name from experts until then.
"""

from __future__ import annotations

from models import ExpertProfile, Match, MatchEvent, MatchOutcome, Need, Role, User, db

from ..access import is_staff
from . import outcomes
from .matches import contacts_visible, party


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def need_view(need: Need, viewer: User, *, reveal_enterprise: bool = False) -> dict:
    staff = is_staff(viewer)
    owner = viewer.role == Role.ENTERPRISE and viewer.organization_id == need.organization_id
    show_org = staff or owner or reveal_enterprise or not need.anonymous
    return {
        "id": need.id,
        "title": need.title,
        "description": need.description,
        "industry_codes": list(need.industry_codes or []),
        "region": need.region,
        "cooperation_modes": list(need.cooperation_modes or []),
        "budget_min": need.budget_min,
        "budget_max": need.budget_max,
        "deadline": _iso(need.deadline),
        "status": need.status.value,
        "anonymous": need.anonymous,
        "organization": need.organization.name if show_org else None,
        "created_at": _iso(need.created_at),
    }


def expert_view(profile: ExpertProfile, viewer: User, *, with_contacts: bool) -> dict:
    data = {
        "id": profile.id,
        "name": profile.name,
        "title": profile.title,
        "organization": profile.organization.name if profile.organization else None,
        "region": profile.region,
        "discipline_codes": list(profile.discipline_codes or []),
        "research_areas": list(profile.research_areas or []),
        "keywords": list(profile.keywords or []),
        "summary": profile.summary,
        "cooperation_modes": list(profile.cooperation_modes or []),
        "capacity": profile.capacity,
        "available": profile.available,
        "achievements": [
            {"id": a.id, "kind": a.kind.value, "title": a.title, "abstract": a.abstract, "year": a.year,
             "authors": a.authors, "venue": a.venue}
            for a in profile.achievements
        ],
    }
    if with_contacts:
        data["contacts"] = profile.contacts()
    return data


def may_see_expert_contacts(viewer: User, profile: ExpertProfile, matches: list[Match]) -> bool:
    if is_staff(viewer):
        return True
    if viewer.role == Role.EXPERT and profile.user_id == viewer.id:
        return True
    return any(contacts_visible(m) and party(viewer, m).enterprise for m in matches)


def match_view(match: Match, viewer: User) -> dict:
    p = party(viewer, match)
    revealed = contacts_visible(match)
    records = outcomes.records_of(db.session, match.id)
    data = {
        "id": match.id,
        "status": match.status.value,
        "need_id": match.need_id,
        "expert_id": match.expert_id,
        "need": need_view(match.need, viewer, reveal_enterprise=revealed),
        "expert": expert_view(match.expert, viewer, with_contacts=False),
        "expert_accepted": match.expert_accepted_at is not None,
        "enterprise_accepted": match.enterprise_accepted_at is not None,
        "closed_reason": match.closed_reason or None,
        "created_at": _iso(match.created_at),
        "updated_at": _iso(match.updated_at),
        "events": [_event_view(e, records.get(e.id), viewer, revealed) for e in match.events],
        "awaiting_confirmation": _awaiting_view(match),
        "stepper": outcomes.stepper(match, list(match.events)),
    }
    if p.coordinator or revealed:
        organization = match.need.organization
        data["contacts"] = {
            "expert": match.expert.contacts(),
            "enterprise": {"organization": organization.name, **organization.contacts()},
        }
    return data


def need_progress_view(progress) -> dict:
    """A need's stage and its matches for the enterprise that posted it (and staff): states and
    the expert's name, never contacts (those are on the match, once connected)."""
    stage = progress.stage
    return {
        "stage": getattr(stage, "value", stage),
        "locked": progress.locked,
        "matches": [{"id": m.id, "status": m.status.value, "expert": {"id": m.expert_id, "name": m.expert.name, "title": m.expert.title},
                     "updated_at": _iso(m.updated_at)} for m in progress.matches],
    }


def recommended_need_view(item, viewer: User) -> dict:
    """One recommended need for an expert: the need as experts see it (an anonymous need
    without its enterprise), the pair's relevance and reasons, and whether he is interested."""
    s = item.suggestion
    return {"need": need_view(item.need, viewer), "score": s.score, "relevance": s.relevance, "band": s.band,
            "reasons": s.reasons, "evidence": s.evidence, "flags": s.flags, "interested": item.interested}


def interest_view(interest) -> dict:
    return {"need_id": interest.need_id, "expert_id": interest.expert_id, "relevance": interest.relevance,
            "created_at": _iso(interest.created_at)}


def _actor_name(event: MatchEvent, viewer: User, revealed: bool) -> str | None:
    """Who took a step, by name — except an enterprise member's name to the expert before the
    match is connected (the enterprise's people are contact details until then)."""
    actor = event.actor
    if actor is None:
        return None
    if event.actor_role == Role.ENTERPRISE.value and viewer.role == Role.EXPERT and not revealed and actor.id != viewer.id:
        return None
    return actor.name


def _event_view(event: MatchEvent, record: MatchOutcome | None, viewer: User, revealed: bool) -> dict:
    view = {"to": event.to_status, "from": event.from_status, "at": _iso(event.created_at), "actor_role": event.actor_role,
            "actor": _actor_name(event, viewer, revealed), "reason": event.reason_code or None, "note": event.note or None}
    if record is not None:
        decider = record.decided_by
        view["outcome"] = {
            "step": record.step, "date": record.occurred_on.isoformat(), "amount_wan": outcomes.wan(record.amount_yuan),
            "state": record.state, "decided_side": record.decided_side or None,
            "decided_by": decider.name if decider is not None and (revealed or is_staff(viewer)) else None,
            "decided_at": _iso(record.decided_at), "reject_reason": record.reject_reason or None,
            "reject_note": record.reject_note or None}
    return view


def _awaiting_view(match: Match) -> dict | None:
    waiting = outcomes.awaiting(match.status)
    if waiting is None:
        return None
    step, sides = waiting
    return {"step": step.value, "by": [side.value for side in sides], "or_coordinator": True}
