"""The match lifecycle as data: every state, every transition, who may take it and who is told.

This table is the one home of the lifecycle's rules. The service (``matches.py``) checks each
request against it, the match page offers the actions it allows, notifications read who is
told, statistics read which states await an answer and the funnel ranks, the ranker reads its
label grades, the capacity check reads which states are engaged, and the demo loader walks it.
Changing a rule means editing a row here.

::

    proposed ─┬─ expert accepts ──► expert_accepted ─────┐
              ├─ enterprise accepts ► enterprise_accepted ┤ the other side accepts
              │                                           ▼
              ├─ a side declines ─► expert_declined |  connected  (contacts revealed)
              │                     enterprise_declined   ▼
              │                                 intent ► contract ► completed
              └─ coordinator closes (any open state) / enterprise withdraws the need
                 (any open state before a contract: past intent the need is fixed) ─► closed

A contract or a completion recorded by the expert or the enterprise waits in a pending state
(``contract_by_expert``...) until the other side or a coordinator confirms it (→ ``contract``)
or rejects it (back to ``intent``); only then does it count. A coordinator's record counts at
once; an intent needs no confirmation.

Nothing here imports Flask: messages are English msgids (:func:`errors.N_`), translated where
they are shown.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from models import MatchStatus

from .errors import N_


class Side(str, enum.Enum):
    """How an actor relates to a match."""

    EXPERT = "expert"  # the proposed expert
    ENTERPRISE = "enterprise"  # a member of the organisation that posted the need
    COORDINATOR = "coordinator"  # staff (coordinators and administrators)


class Action(str, enum.Enum):
    PROPOSE = "propose"
    ACCEPT = "accept"
    DECLINE = "decline"
    INTENT = "intent"
    CONTRACT = "contract"
    COMPLETE = "completed"
    CLOSE = "closed"
    WITHDRAW = "need_withdrawn"  # the enterprise withdrew the need: its open matches close
    CONFIRM_CONTRACT = "confirm_contract"  # the other side confirms a contract one side recorded
    REJECT_CONTRACT = "reject_contract"
    CONFIRM_COMPLETION = "confirm_completed"
    REJECT_COMPLETION = "reject_completed"


S = MatchStatus
EXPERT, ENTERPRISE, COORDINATOR = Side.EXPERT, Side.ENTERPRISE, Side.COORDINATOR
PARTIES = frozenset({EXPERT, ENTERPRISE})
EVERYONE = frozenset(Side)


@dataclass(frozen=True)
class State:
    """What a state means. ``funnel_rank``: the stage it counts for in the statistics funnel
    (a match at rank r counts for every stage up to r; 0: not a stage). ``ranker_grade``: how
    good a coordinator's proposal turned out, as the ranker's training label."""

    status: MatchStatus
    awaiting_answer: bool = False  # a side still owes an answer to the proposal
    engaged: bool = False  # occupies one unit of the expert's capacity
    revealed: bool = False  # contacts of both sides are visible to each other
    final: bool = False  # nothing follows; a state that is not final is open
    funnel_rank: int = 0
    ranker_grade: int = 1


STATES = (
    State(S.PROPOSED, awaiting_answer=True),
    State(S.EXPERT_ACCEPTED, awaiting_answer=True),
    State(S.ENTERPRISE_ACCEPTED, awaiting_answer=True),
    State(S.EXPERT_DECLINED, final=True),
    State(S.ENTERPRISE_DECLINED, final=True),
    State(S.CONNECTED, engaged=True, revealed=True, funnel_rank=1, ranker_grade=2),
    State(S.INTENT, engaged=True, revealed=True, funnel_rank=2, ranker_grade=2),
    State(S.CONTRACT, engaged=True, revealed=True, funnel_rank=3, ranker_grade=3),
    State(S.COMPLETED, revealed=True, final=True, funnel_rank=4, ranker_grade=3),
    State(S.CLOSED, final=True),
    # recorded by one side, not yet confirmed: counts as the step before
    State(S.CONTRACT_BY_EXPERT, engaged=True, revealed=True, funnel_rank=2, ranker_grade=2),
    State(S.CONTRACT_BY_ENTERPRISE, engaged=True, revealed=True, funnel_rank=2, ranker_grade=2),
    State(S.COMPLETED_BY_EXPERT, engaged=True, revealed=True, funnel_rank=3, ranker_grade=3),
    State(S.COMPLETED_BY_ENTERPRISE, engaged=True, revealed=True, funnel_rank=3, ranker_grade=3),
)


@dataclass(frozen=True)
class ActionRule:
    """What an action needs and when repeating it is a no-op. ``reasons``: the actor must pick
    one (empty: no reason asked; one entry: that reason is recorded). ``done_in``: per side,
    the states in which that side's action has already happened — asking again changes
    nothing and is not an error."""

    action: Action
    reasons: tuple[str, ...] = ()
    done_in: tuple[tuple[Side, frozenset[MatchStatus]], ...] = ()
    reason_missing: tuple[str, str] = ("", "")  # (message, field problem) when no listed reason was given
    records: MatchStatus | None = None  # the outcome step this action records (with a date, amount, note)
    amount: str = ""  # the amount (万元) of that record: "required", "optional" or "" (none taken)

    def done(self, side: Side, status: MatchStatus) -> bool:
        return any(who == side and status in states for who, states in self.done_in)


REVEALED_STATES = frozenset(s.status for s in STATES if s.revealed)
_REJECT_REASONS = ("details_wrong", "not_happened", "other")
_REJECT_MISSING = (N_("choose a reason for rejecting"), N_("required when rejecting"))
ACTIONS = (
    ActionRule(Action.PROPOSE, done_in=((COORDINATOR, frozenset(MatchStatus)),)),  # the pair exists: it is that match
    ActionRule(Action.ACCEPT, done_in=((EXPERT, frozenset({S.EXPERT_ACCEPTED}) | REVEALED_STATES),
                                       (ENTERPRISE, frozenset({S.ENTERPRISE_ACCEPTED}) | REVEALED_STATES))),
    ActionRule(Action.DECLINE, reasons=("not_my_field", "no_capacity", "budget", "timeline", "location", "already_solved", "other"),
               done_in=((EXPERT, frozenset({S.EXPERT_DECLINED})), (ENTERPRISE, frozenset({S.ENTERPRISE_DECLINED}))),
               reason_missing=(N_("choose a reason for declining"), N_("required when declining"))),
    ActionRule(Action.INTENT, done_in=tuple((side, frozenset({S.INTENT})) for side in Side), records=S.INTENT,
               amount="optional"),
    ActionRule(Action.CONTRACT, done_in=((EXPERT, frozenset({S.CONTRACT_BY_EXPERT, S.CONTRACT})),
                                         (ENTERPRISE, frozenset({S.CONTRACT_BY_ENTERPRISE, S.CONTRACT})),
                                         (COORDINATOR, frozenset({S.CONTRACT}))), records=S.CONTRACT, amount="required"),
    ActionRule(Action.COMPLETE, done_in=((EXPERT, frozenset({S.COMPLETED_BY_EXPERT, S.COMPLETED})),
                                         (ENTERPRISE, frozenset({S.COMPLETED_BY_ENTERPRISE, S.COMPLETED})),
                                         (COORDINATOR, frozenset({S.COMPLETED}))), records=S.COMPLETED),
    ActionRule(Action.CONFIRM_CONTRACT, done_in=tuple((side, frozenset({S.CONTRACT, S.COMPLETED_BY_EXPERT, S.COMPLETED_BY_ENTERPRISE,
                                                                         S.COMPLETED})) for side in Side)),
    ActionRule(Action.REJECT_CONTRACT, reasons=_REJECT_REASONS, done_in=tuple((side, frozenset({S.INTENT})) for side in Side),
               reason_missing=_REJECT_MISSING),
    ActionRule(Action.CONFIRM_COMPLETION, done_in=tuple((side, frozenset({S.COMPLETED})) for side in Side)),
    ActionRule(Action.REJECT_COMPLETION, reasons=_REJECT_REASONS, done_in=tuple((side, frozenset({S.CONTRACT})) for side in Side),
               reason_missing=_REJECT_MISSING),
    ActionRule(Action.CLOSE, reasons=("no_response", "need_withdrawn", "solved_elsewhere", "not_feasible", "duplicate", "other"),
               done_in=((COORDINATOR, frozenset({S.CLOSED})),),
               reason_missing=(N_("choose a reason for closing"), N_("required when closing"))),
    ActionRule(Action.WITHDRAW, reasons=("need_withdrawn",), done_in=((ENTERPRISE, frozenset({S.CLOSED})),)),
)


@dataclass(frozen=True)
class Transition:
    """``source`` × ``action`` by one of ``by`` → ``target``; ``tell``: who is notified (never
    the actor); ``confirm``: what the actor reads afterwards. ``source`` None: creation."""

    source: MatchStatus | None
    action: Action
    by: frozenset[Side]
    target: MatchStatus
    tell: frozenset[Side]
    confirm: str
    notice: str = ""  # the notification's kind when it is not the target state's name

    @property
    def kind(self) -> str:
        return self.notice or self.target.value


_OPEN = tuple(s.status for s in STATES if not s.final)
_INTENT_RANK = next(s.funnel_rank for s in STATES if s.status == S.INTENT)
# A match past intent (a contract signed, or the work completed) fixes its need: the enterprise
# may no longer edit or withdraw it (withdrawing would close a signed contract). A contract one
# side has recorded and the other has not yet confirmed fixes it too.
_CONTRACT_RECORDED = frozenset().union(*(states for _, states in next(
    rule for rule in ACTIONS if rule.action == Action.CONTRACT).done_in))
LOCKS_NEED = frozenset(s.status for s in STATES if s.funnel_rank > _INTENT_RANK) | _CONTRACT_RECORDED
_CLOSED_MESSAGE = N_("The match was closed.")

TRANSITIONS = (
    Transition(None, Action.PROPOSE, frozenset({COORDINATOR}), S.PROPOSED, PARTIES,
               N_("A coordinator proposed a match. Please accept or decline.")),
    Transition(S.PROPOSED, Action.ACCEPT, frozenset({EXPERT}), S.EXPERT_ACCEPTED, frozenset({ENTERPRISE}),
               N_("You accepted. Waiting for the enterprise's answer.")),
    Transition(S.PROPOSED, Action.ACCEPT, frozenset({ENTERPRISE}), S.ENTERPRISE_ACCEPTED, frozenset({EXPERT}),
               N_("You accepted. Waiting for the expert's answer.")),
    Transition(S.ENTERPRISE_ACCEPTED, Action.ACCEPT, frozenset({EXPERT}), S.CONNECTED, EVERYONE,
               N_("You accepted. Both sides have accepted: contact details are now visible.")),
    Transition(S.EXPERT_ACCEPTED, Action.ACCEPT, frozenset({ENTERPRISE}), S.CONNECTED, EVERYONE,
               N_("You accepted. Both sides have accepted: contact details are now visible.")),
    Transition(S.PROPOSED, Action.DECLINE, frozenset({EXPERT}), S.EXPERT_DECLINED, frozenset({ENTERPRISE, COORDINATOR}),
               N_("You declined the proposal. The coordinator has been told.")),
    Transition(S.ENTERPRISE_ACCEPTED, Action.DECLINE, frozenset({EXPERT}), S.EXPERT_DECLINED, frozenset({ENTERPRISE, COORDINATOR}),
               N_("You declined the proposal. The coordinator has been told.")),
    Transition(S.PROPOSED, Action.DECLINE, frozenset({ENTERPRISE}), S.ENTERPRISE_DECLINED, frozenset({EXPERT, COORDINATOR}),
               N_("You declined the proposal. The coordinator has been told.")),
    Transition(S.EXPERT_ACCEPTED, Action.DECLINE, frozenset({ENTERPRISE}), S.ENTERPRISE_DECLINED, frozenset({EXPERT, COORDINATOR}),
               N_("You declined the proposal. The coordinator has been told.")),
    Transition(S.CONNECTED, Action.INTENT, EVERYONE, S.INTENT, EVERYONE, N_("A cooperation intent was recorded.")),
    # a contract and a completion: a coordinator's record counts at once; a side's waits for the other side
    Transition(S.INTENT, Action.CONTRACT, frozenset({COORDINATOR}), S.CONTRACT, EVERYONE, N_("A contract was signed.")),
    Transition(S.INTENT, Action.CONTRACT, frozenset({EXPERT}), S.CONTRACT_BY_EXPERT, frozenset({ENTERPRISE, COORDINATOR}),
               N_("You recorded the contract. It counts once the enterprise confirms it.")),
    Transition(S.INTENT, Action.CONTRACT, frozenset({ENTERPRISE}), S.CONTRACT_BY_ENTERPRISE, frozenset({EXPERT, COORDINATOR}),
               N_("You recorded the contract. It counts once the expert confirms it.")),
    Transition(S.CONTRACT, Action.COMPLETE, frozenset({COORDINATOR}), S.COMPLETED, EVERYONE, N_("The cooperation was completed.")),
    Transition(S.CONTRACT, Action.COMPLETE, frozenset({EXPERT}), S.COMPLETED_BY_EXPERT, frozenset({ENTERPRISE, COORDINATOR}),
               N_("You recorded the completion. It counts once the enterprise confirms it.")),
    Transition(S.CONTRACT, Action.COMPLETE, frozenset({ENTERPRISE}), S.COMPLETED_BY_ENTERPRISE, frozenset({EXPERT, COORDINATOR}),
               N_("You recorded the completion. It counts once the expert confirms it.")),
    *[row for pending, recorder, confirmed, before, confirm, reject in (
        (S.CONTRACT_BY_EXPERT, EXPERT, S.CONTRACT, S.INTENT, Action.CONFIRM_CONTRACT, Action.REJECT_CONTRACT),
        (S.CONTRACT_BY_ENTERPRISE, ENTERPRISE, S.CONTRACT, S.INTENT, Action.CONFIRM_CONTRACT, Action.REJECT_CONTRACT),
        (S.COMPLETED_BY_EXPERT, EXPERT, S.COMPLETED, S.CONTRACT, Action.CONFIRM_COMPLETION, Action.REJECT_COMPLETION),
        (S.COMPLETED_BY_ENTERPRISE, ENTERPRISE, S.COMPLETED, S.CONTRACT, Action.CONFIRM_COMPLETION, Action.REJECT_COMPLETION),
    ) for row in (
        Transition(pending, confirm, EVERYONE - {recorder}, confirmed, EVERYONE, N_("You confirmed it: it now counts.")),
        Transition(pending, reject, EVERYONE - {recorder}, before, EVERYONE,
                   N_("You rejected the record. The side that recorded it has been told."), notice=reject.value),
    )],
    *[Transition(state, Action.CLOSE, frozenset({COORDINATOR}), S.CLOSED, EVERYONE, _CLOSED_MESSAGE) for state in _OPEN],
    *[Transition(state, Action.WITHDRAW, frozenset({ENTERPRISE}), S.CLOSED, frozenset({EXPERT, COORDINATOR}), _CLOSED_MESSAGE,
                 notice=Action.WITHDRAW.value) for state in _OPEN if state not in LOCKS_NEED],
)

# -- views of the table, for its readers ---------------------------------------------------------
STATE = {s.status: s for s in STATES}
RULE = {rule.action: rule for rule in ACTIONS}
AWAITING_ANSWER = tuple(s.status for s in STATES if s.awaiting_answer)
ENGAGED = frozenset(s.status for s in STATES if s.engaged)
REVEALED = tuple(s.status for s in STATES if s.revealed)
FINAL = tuple(s.status for s in STATES if s.final)
OPEN = _OPEN
DECLINED = tuple(dict.fromkeys(t.target for t in TRANSITIONS if t.action == Action.DECLINE))
FUNNEL_RANK = {s.status: s.funnel_rank for s in sorted(STATES, key=lambda s: s.funnel_rank) if s.funnel_rank}
RANKER_GRADE = {s.status: s.ranker_grade for s in STATES}
RECORDED_ACTIONS = (Action.INTENT, Action.CONTRACT, Action.COMPLETE, Action.CLOSE)  # what "record an outcome" takes
RECORDS = {rule.action: rule.records for rule in ACTIONS if rule.records}  # action -> the step it records
CONFIRMING = {row.action: row.target for row in TRANSITIONS if row.action.value.startswith("confirm_")}
REJECTING = {row.action: row.target for row in TRANSITIONS if row.action.value.startswith("reject_")}
# a pending state -> (the step its confirmation reaches, the sides that may confirm or reject it)
AWAITING_CONFIRMATION = {row.source: (row.target, row.by) for row in TRANSITIONS if row.action in CONFIRMING}
# the states of the funnel's stages, in order (connected → intent → contract → completed); a
# pending state counts as the stage before its own
OUTCOME_ORDER = tuple(status for status in FUNNEL_RANK if status not in AWAITING_CONFIRMATION)
STEPS = (S.PROPOSED, None, *OUTCOME_ORDER)  # the match page's stepper; None: both sides accepted


def confirmation_action(step: MatchStatus, accept: bool) -> Action | None:
    """The action that confirms (``accept``) or rejects a pending record of ``step``."""
    return _DECISIONS.get((step, accept))


_DECISIONS = {(AWAITING_CONFIRMATION[row.source][0], row.action in CONFIRMING): row.action
              for row in TRANSITIONS if row.action in CONFIRMING or row.action in REJECTING}


def reached_step(rank: int) -> int:
    """The stepper's index reached by a match whose best funnel rank is ``rank`` (0: proposed)."""
    return rank + 1 if rank else 0


def transition(source: MatchStatus | None, action: Action, side: Side) -> Transition | None:
    """The row that lets ``side`` take ``action`` from ``source``, or None."""
    return next((t for t in TRANSITIONS if t.source == source and t.action == action and side in t.by), None)


def may_ever(side: Side, action: Action) -> bool:
    """Whether ``side`` takes ``action`` from any state at all (else: permission denied)."""
    return any(t.action == action and side in t.by for t in TRANSITIONS)


def actions_for(status: MatchStatus, side: Side | None) -> tuple[Action, ...]:
    """The actions ``side`` may take on a match in ``status``, in table order."""
    if side is None:
        return ()
    seen: list[Action] = []
    for t in TRANSITIONS:
        if t.source == status and side in t.by and t.action not in seen:
            seen.append(t.action)
    return tuple(seen)


def confirmation(action: Action, status: MatchStatus, side: Side) -> str:
    """What the actor reads after taking ``action`` and finding the match in ``status``."""
    row = next((t for t in TRANSITIONS if t.action == action and t.target == status and side in t.by), None)
    return row.confirm if row else N_("Nothing changed: this step had already been recorded.")


def path(source: MatchStatus, target: MatchStatus) -> tuple[tuple[Transition, Side], ...] | None:
    """The shortest walk through the table from ``source`` to ``target`` (a need's withdrawal
    aside), each step with the side that takes it (a coordinator where several may); None
    when the table has no way there. The demo loader replays its history along it."""
    preference = (COORDINATOR, EXPERT, ENTERPRISE)
    frontier: list[tuple[MatchStatus, tuple]] = [(source, ())]
    seen = {source}
    while frontier:
        status, steps = frontier.pop(0)
        if status == target:
            return steps
        for row in TRANSITIONS:
            if row.source == status and row.action != Action.WITHDRAW and row.target not in seen:
                seen.add(row.target)
                side = next(s for s in preference if s in row.by)
                frontier.append((row.target, (*steps, (row, side))))
    return None
