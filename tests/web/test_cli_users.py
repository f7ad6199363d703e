import sqlalchemy as sa

from models import AccountStatus, ExpertProfile, Organization, Role, User, db


def test_create_enterprise_creates_its_organisation(ctx, runner):
    result = runner.invoke(args=["users", "create", "--role", "enterprise", "--email", "Boss@Plant.example.cn",
                                 "--password", "spring-fatigue-2026", "--name", "茂名弹簧厂"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "boss@plant.example.cn"))
    assert user.role == Role.ENTERPRISE and user.status == AccountStatus.ACTIVE
    assert user.organization.name == "茂名弹簧厂"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organization)) == 1


def test_create_expert_creates_an_empty_profile(ctx, runner):
    result = runner.invoke(args=["users", "create", "--role", "expert", "--email", "li@univ.example.cn",
                                 "--password", "tilapia-vaccine-88", "--name", "李教授"])
    assert result.exit_code == 0, result.output
    profile = db.session.scalar(sa.select(ExpertProfile))
    assert profile.name == "李教授" and profile.user.email == "li@univ.example.cn"
    assert profile.achievements == []


def test_weak_password_is_refused_with_the_reason(ctx, runner):
    result = runner.invoke(args=["users", "create", "--role", "admin", "--email", "a@x.example.cn",
                                 "--password", "password1", "--name", "Admin"])
    assert result.exit_code != 0
    assert "too common" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_duplicate_email_is_refused(ctx, runner):
    args = ["users", "create", "--role", "coordinator", "--email", "c@kx.example.cn", "--password", "lychee-harvest-31", "--name", "C"]
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and "already registered" in result.output


def test_unknown_role_is_refused(ctx, runner):
    result = runner.invoke(args=["users", "create", "--role", "root", "--email", "r@x.example.cn",
                                 "--password", "lychee-harvest-31", "--name", "R"])
    assert result.exit_code != 0 and "root" in result.output


def test_password_is_asked_for_hidden_and_twice_when_not_given(ctx, runner):
    result = runner.invoke(args=["users", "create", "--role", "coordinator", "--email", "k@kx.example.cn", "--name", "K"],
                           input="olive-grove-2026\nolive-grove-2026\n")
    assert result.exit_code == 0, result.output
    assert "olive-grove-2026" not in result.output  # hidden input is not echoed
    user = db.session.scalar(sa.select(User).where(User.email == "k@kx.example.cn"))
    assert user is not None and user.role == Role.COORDINATOR


def test_mistyped_confirmation_creates_nothing(ctx, runner):
    result = runner.invoke(args=["users", "create", "--role", "coordinator", "--email", "k@kx.example.cn", "--name", "K"],
                           input="olive-grove-2026\nolive-grove-2027\n")
    assert result.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
