"""Coordinator: matchmaking events (对接活动) — choose needs, invite experts, plan, publish."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from .. import labels
from ..access import STAFF, roles_required
from ..domain import events as event_service
from ..domain.errors import DomainError
from ..domain.fields import EVENT
from ..domain.validation import parse_id
from ..forms import ActionForm, industry_choices
from ..matching.search import IndexNotReady
from . import bp
from .forms import EventForm


def _ids(name: str) -> list[int]:
    return [i for i in (parse_id(v) for v in request.form.getlist(name)) if i is not None]


@bp.route("/events", methods=["GET", "POST"])
@roles_required(*STAFF)
def events():
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        data = {"name": request.form.get("name", ""), "place": request.form.get("place", ""),
                "online": request.form.get("online") == "y", "starts_at": request.form.get("starts_at", "").replace("T", " "),
                "industry_codes": request.form.getlist("industry_codes")}
        try:
            event = event_service.create_event(current_user, data)
        except DomainError as exc:
            flash(exc.localized(), "error")
        else:
            return redirect(url_for("coordinator.event_detail", event_id=event.id))
    event_form = EventForm()
    event_form.industry_codes.choices = industry_choices(str(get_locale()))
    return render_template("coordinator/events.html", events=event_service.list_events(), form=form,
                           event_form=event_form, event_fields=EVENT)


@bp.route("/events/<int:event_id>")
@roles_required(*STAFF)
def event_detail(event_id: int):
    event = event_service.event_for(current_user, event_id)
    industry = request.args.get("industry", "") or (event.industry_codes[0] if event.industry_codes else "")
    region = request.args.get("region", "")
    age = request.args.get("age", "0")
    choosable = event_service.candidate_needs(industry, region, min(int(age), 3650) if age.isdigit() and len(age) < 6 else 0)
    in_event = {n.need_id for n in event.needs}
    query = request.args.get("q", "")
    invited = {x.expert_id for x in event.experts}
    found = [p for p in event_service.find_experts(query) if p.id not in invited]
    slots_by_need: dict[int, dict[str, list]] = {}
    for slot in event.slots:
        slots_by_need.setdefault(slot.need_id, {"assigned": [], "alternate": []})[slot.kind].append(slot)
    states = event_service.slot_states(event)
    ended = {slot_id for slot_id, state in states.items() if state in event_service.ENDED}
    unsent = [s for s in event.slots if s.kind == "assigned" and s.match_id is None]
    return render_template("coordinator/event_detail.html", event=event, choosable=[n for n in choosable if n.id not in in_event],
                           slots=slots_by_need, states=states, ended=ended, unsent=unsent, labels=labels,
                           filters={"industry": industry, "region": region, "age": age}, action_form=ActionForm(),
                           query=query, found=found, industries=industry_choices(str(get_locale())))


@bp.route("/events/<int:event_id>/<action>", methods=["POST"])
@roles_required(*STAFF)
def event_action(event_id: int, action: str):
    if action not in {"add-needs", "invite", "invite-suggested", "plan", "replan", "pin", "unpin", "publish"}:
        from flask import abort

        abort(404)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("coordinator.event_detail", event_id=event_id))
    try:
        if action == "add-needs":
            demand = request.form.get("demand", "2")
            added = event_service.add_needs(current_user, event_id, _ids("need_id"), int(demand) if demand.isdigit() else 0)
            flash(_("%(count)s need(s) added.", count=added), "success")
        elif action == "invite":
            added = event_service.invite_experts(current_user, event_id, _ids("expert_id"))
            flash(_("%(count)s expert(s) invited.", count=added), "success")
        elif action == "invite-suggested":
            added = event_service.invite_from_suggestions(current_user, event_id)
            flash(_("%(count)s expert(s) invited from the suggestions.", count=added), "success")
        elif action == "plan":
            outcome = event_service.plan(current_user, event_id)
            flash(_("Plan ready: %(slots)s slot(s) unfilled.", slots=outcome["unfilled_slots"]), "success")
        elif action == "replan":
            outcome = event_service.replan(current_user, event_id)
            flash(_("New plan for the freed places: %(slots)s slot(s) unfilled. Publish to send the new proposals.",
                    slots=outcome["unfilled_slots"]), "success")
        elif action in ("pin", "unpin"):
            need_ids, expert_ids = _ids("need_id"), _ids("expert_id")
            if need_ids and expert_ids:
                event_service.set_pin(current_user, event_id, need_ids[0], expert_ids[0], action == "pin")
        elif action == "publish":
            created = event_service.publish(current_user, event_id)
            flash(_("Published: %(count)s proposal(s) sent to experts and enterprises.", count=created), "success")
    except IndexNotReady:
        flash(_("Suggestions are not available yet: the index is being built."), "error")
    except DomainError as exc:
        if exc.status == 404:
            raise
        flash(exc.localized(), "error")
    return redirect(url_for("coordinator.event_detail", event_id=event_id))


@bp.route("/events/<int:event_id>/schedule")
@roles_required(*STAFF)
def event_schedule(event_id: int):
    event = event_service.event_for(current_user, event_id)
    return render_template("coordinator/event_schedule.html", event=event, rows=event_service.schedule(event))
