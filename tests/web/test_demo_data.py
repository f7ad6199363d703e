"""The shipped demo dataset: every record validates and the whole set loads."""

import sqlalchemy as sa

from models import Achievement, ExpertProfile, Match, Need, Organization, User, db
from web.infra.demo import load_demo, read_dataset, validate_dataset


def test_every_demo_record_validates():
    dataset = read_dataset()
    assert validate_dataset(dataset) == []
    assert len(dataset.experts) >= 200 and len(dataset.needs) >= 100 and len(dataset.judgements) >= 150
    assert all(len(e["achievements"]) >= 3 for e in dataset.experts)
    english = sum(1 for e in dataset.experts if e.get("lang") == "en") / len(dataset.experts)
    assert 0.1 <= english <= 0.3
    hard = {r.get("hard_case") for r in dataset.experts + dataset.needs}
    assert {"plant_floor_language", "conflict_of_interest", "full_capacity", "cross_language"} <= hard


def test_the_whole_dataset_loads_into_an_empty_database(ctx, runner):
    dataset = read_dataset()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    assert count(ExpertProfile) == len(dataset.experts)
    assert count(Need) == len(dataset.needs)
    assert count(Achievement) == sum(len(e["achievements"]) for e in dataset.experts)
    assert count(Match) == len(dataset.matches)
    assert count(Organization) == len({o["name"] for o in dataset.organizations})
    conflicted = db.session.scalar(sa.select(ExpertProfile).where(ExpertProfile.external_ref == "exp-b037"))
    assert conflicted.organization.external_ref == "org-b044"


def test_demo_load_refuses_a_non_empty_database(ctx, runner, factory):
    factory.user(role="admin")
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0 and "not empty" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExpertProfile)) == 0
    assert runner.invoke(args=["demo", "load", "--if-empty"]).exit_code == 0


def test_demo_passwords_are_generated_not_fixed(ctx):
    first, _ = load_demo(read_dataset())
    assert len(first) >= 12
    user = db.session.scalar(sa.select(User).where(User.email == "coordinator@demo.example.cn"))
    assert user.is_demo
    from web.infra.passwords import verify_password

    assert verify_password(user.password_hash, first) and not verify_password(user.password_hash, "admin")


def test_demo_mode_is_refused_outside_demo_and_test_configurations(ctx, runner):
    ctx.config["TESTING"] = False
    ctx.config["DEMO_MODE"] = False
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0 and "demo mode" in result.output


def test_the_showcase_enterprise_and_expert_do_not_start_on_an_empty_page(ctx):
    _, logins = load_demo(read_dataset())
    by_role = {login.role.value: login.email for login in logins}
    assert set(by_role) == {"coordinator", "admin", "enterprise", "expert"}
    enterprise = db.session.scalar(sa.select(User).where(User.email == by_role["enterprise"]))
    expert = db.session.scalar(sa.select(ExpertProfile).join(User).where(User.email == by_role["expert"]))
    enterprise_matches = db.session.scalar(
        sa.select(sa.func.count()).select_from(Match).join(Need).where(Need.organization_id == enterprise.organization_id))
    expert_matches = db.session.scalar(sa.select(sa.func.count()).select_from(Match).where(Match.expert_id == expert.id))
    assert enterprise_matches >= 2 and expert_matches >= 2
