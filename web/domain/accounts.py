"""Accounts: creation, authentication, approval and password changes."""

from __future__ import annotations

import logging
import unicodedata

import sqlalchemy as sa

from matcher.text import has_lone_surrogates
from models import (
    AccountStatus,
    ExpertProfile,
    Organization,
    OrganizationKind,
    Role,
    User,
    db,
    utcnow,
    write_transaction,
)

from ..access import is_staff
from ..infra.passwords import DUMMY_HASH, check_password_policy, hash_password, needs_rehash, verify_password
from .errors import N_, DomainError, NotFound, PermissionDenied, ValidationError
from .fields import SIGN_UP
from .validation import clean_fields, is_email, normalise_text

security_log = logging.getLogger("matcher.security")

def normalise_email(email: str) -> str:
    """The address as stored and compared: NFKC, without zero-width characters, lower case."""
    email = unicodedata.normalize("NFKC", normalise_text(email or "")).strip().lower()
    if not is_email(email):
        raise ValidationError(N_("email is not a valid e-mail address"), fields={"email": N_("not a valid e-mail address")})
    return email


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(N_("role must be one of %(allowed)s", allowed=allowed), fields={"role": N_("must be one of %(allowed)s", allowed=allowed)}) from None


def create_user(
    *,
    role: Role,
    email: str,
    password: str,
    name: str,
    status: AccountStatus = AccountStatus.ACTIVE,
    organization: Organization | None = None,
    organization_name: str | None = None,
    contact_phone: str = "",
    new_organization_only: bool = False,
    is_demo: bool = False,
) -> User:
    """Create an account. Enterprises get an organisation named ``name`` unless one is given;
    experts get an empty profile named ``name``."""
    email = normalise_email(email)
    name = clean_fields(SIGN_UP, {"name": name}, only=("name",)).finish("account")["name"]
    if role == Role.ENTERPRISE and organization is None and organization_name:
        organization_name = clean_fields(SIGN_UP, {"organization": organization_name}, only=("organization",)).finish("account")["organization"]
    check_password_policy(password, email=email)
    with write_transaction() as session:
        if session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            raise ValidationError(N_("email is already registered"), fields={"email": N_("already registered")})
        if role == Role.ENTERPRISE and organization is None:
            org_name = organization_name or name
            organization = session.scalar(sa.select(Organization).where(Organization.name == org_name))
            if organization is None:
                organization = Organization(name=org_name, kind=OrganizationKind.ENTERPRISE, contact_email=email,
                                            contact_name=name, contact_phone=(contact_phone or "").strip()[:40])
                session.add(organization)
            elif new_organization_only:
                raise ValidationError(
                    N_("organization is already registered; ask its account holder or a coordinator to add you"),
                    fields={"organization": N_("already registered")},
                )
            elif organization.kind != OrganizationKind.ENTERPRISE:
                raise ValidationError(
                    N_("name belongs to an organisation that is not an enterprise"),
                    fields={"name": N_("belongs to an organisation that is not an enterprise")},
                )
        user = User(
            email=email,
            password_hash=hash_password(password),
            name=name,
            role=role,
            status=status,
            organization=organization if role == Role.ENTERPRISE else None,
            is_demo=is_demo,
        )
        session.add(user)
        if role == Role.EXPERT:
            session.add(ExpertProfile(user=user, name=name, email=email, phone=(contact_phone or "").strip()[:40]))
        if status == AccountStatus.PENDING:
            from .coordinator_news import SIGNUP_PENDING, tell_coordinators

            tell_coordinators(session, SIGNUP_PENDING)
    return user


class AccountNotActive(DomainError):
    """The password was right but the account may not sign in (yet). Raised only after a
    correct password, so the message may say why without telling strangers which e-mail
    addresses hold accounts."""

    status = 403

    def __init__(self, status: AccountStatus) -> None:
        if status == AccountStatus.PENDING:
            message = N_("Your account is waiting for approval by a coordinator of the platform. "
                         "You can sign in once it is approved.")
        else:
            message = N_("Your account has been disabled. If you think this is a mistake, please contact "
                         "the coordinators of the platform (the science and technology association that runs it).")
        super().__init__(message)
        self.account_status = status
        self.code = "account_pending" if status == AccountStatus.PENDING else "account_disabled"


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None for wrong credentials. Raises
    :class:`AccountNotActive` when the password is right but the account is pending or
    disabled. Logs the attempt (never the password)."""
    if has_lone_surrogates(email) or has_lone_surrogates(password):
        security_log.warning("login_failed reason=invalid_text")
        return None
    try:
        email = normalise_email(email)
    except ValidationError:
        verify_password(DUMMY_HASH, password or "")
        security_log.warning("login_failed reason=malformed_email")
        return None
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        verify_password(DUMMY_HASH, password or "")
        security_log.warning("login_failed reason=unknown_account")
        return None
    if not verify_password(user.password_hash, password or ""):
        security_log.warning("login_failed user=%s reason=bad_password", user.id)
        return None
    if user.status != AccountStatus.ACTIVE:
        security_log.warning("login_failed user=%s reason=status_%s", user.id, user.status.value)
        raise AccountNotActive(user.status)
    with write_transaction():
        user.last_login_at = utcnow()
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
    security_log.info("login_succeeded user=%s role=%s", user.id, user.role.value)
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password or ""):
        raise ValidationError(N_("current password is wrong"), fields={"current_password": N_("wrong password")})
    check_password_policy(new_password, email=user.email, field="new_password")
    with write_transaction():
        user.password_hash = hash_password(new_password)
        user.session_version += 1  # every other session of this user ends
    security_log.info("password_changed user=%s", user.id)


def end_all_sessions(user: User) -> None:
    with write_transaction():
        user.session_version += 1


def load_session_user(session_id: str) -> User | None:
    """Flask-Login loader: ``"<id>:<session_version>"``; a stale version signs the user out."""
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or user.status != AccountStatus.ACTIVE:
        return None
    return user


def set_account_status(actor: User, user_id: int, status: AccountStatus) -> User:
    if not is_staff(actor):
        raise PermissionDenied("only coordinators and administrators manage accounts")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if user.id == actor.id:
        raise PermissionDenied("nobody changes the status of their own account")
    if is_staff(user) and actor.role != Role.ADMIN:
        raise PermissionDenied("only administrators manage coordinator and administrator accounts")
    with write_transaction():
        user.status = status
        if status != AccountStatus.ACTIVE:
            user.session_version += 1
    security_log.info("account_status_changed user=%s status=%s by=%s", user.id, status.value, actor.id)
    return user


def users_with_status(status: AccountStatus) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.status == status).order_by(User.created_at)))


def sign_up(*, role: Role, email: str, password: str, name: str, organization_name: str = "", phone: str = "") -> User | None:
    """Self-service sign-up for enterprises and experts: the account waits for approval. An
    enterprise registers a new organisation; joining an existing one goes through a coordinator.

    An e-mail or organisation that is already registered is not revealed: the caller gets the
    same answer as a new sign-up (None instead of a user) and the real owner is told by e-mail.
    Every check that does not depend on existing accounts runs first, so its errors are the
    same for a taken and a free address."""
    if role not in (Role.ENTERPRISE, Role.EXPERT):
        raise PermissionDenied("only enterprises and experts sign up themselves")
    fields = clean_sign_up(role, name=name, organization_name=organization_name, phone=phone)
    name, organization_name, phone = fields["name"], fields["organization"], fields["phone"]
    email = normalise_email(email)
    check_password_policy(password, email=email)
    owner = db.session.scalar(sa.select(User).where(User.email == email))
    organization = (db.session.scalar(sa.select(Organization).where(Organization.name == organization_name))
                    if role == Role.ENTERPRISE else None)
    if owner is not None or organization is not None:
        hash_password(password)  # the same work as a real sign-up, so timing tells nothing either
        _tell_owners_of_attempt(owner, organization)
        security_log.info("signup_for_registered reason=%s", "email" if owner is not None else "organization")
        return None
    return create_user(role=role, email=email, password=password, name=name, status=AccountStatus.PENDING,
                       organization_name=organization_name or None, contact_phone=phone, new_organization_only=True)


def clean_sign_up(role: Role, *, name: str, organization_name: str = "", phone: str = "") -> dict:
    """Name, organisation and phone of a sign-up checked against the sign-up field spec; an
    enterprise must name its organisation."""
    cleaner = clean_fields(SIGN_UP, {"name": name, "organization": organization_name or "", "phone": phone or ""},
                           only=("name", "organization", "phone"))
    if role == Role.ENTERPRISE and not cleaner.clean.get("organization") and "organization" not in cleaner.errors:
        cleaner.fail("organization", N_("must not be empty"))
    return cleaner.finish("sign-up")


def _tell_owners_of_attempt(owner: User | None, organization: Organization | None) -> None:
    """An e-mail (outbox) to the account holder, or to the organisation's accounts and contact."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from models import EmailMessage

    letters: dict[str, str] = {}
    if owner is not None:
        letters[owner.email] = owner.locale or "zh"
    else:
        for user in db.session.scalars(sa.select(User).where(User.organization_id == organization.id)):
            letters.setdefault(user.email, user.locale or "zh")
        if organization.contact_email:
            letters.setdefault(organization.contact_email.strip().lower(), "zh")
    with write_transaction() as session:
        for recipient, locale in letters.items():
            with force_locale(locale):
                if owner is not None:
                    subject = _("[Matchmaking] Someone tried to sign up with your e-mail address")
                    body = _("Someone tried to create a new account with this e-mail address, which already has one. "
                             "If it was you, sign in (or ask a coordinator to reset your password); otherwise you can "
                             "ignore this message.")
                else:
                    subject = _("[Matchmaking] Someone tried to register your organisation")
                    body = _("Someone tried to register “%(name)s” as a new organisation, but it is already registered. "
                             "If a colleague needs an account, ask a coordinator to add them to your organisation.",
                             name=organization.name)
            session.add(EmailMessage(recipient=recipient, subject=subject, body=f"{body}\n\n{_login_link()}\n"))


def _login_link() -> str:
    from flask import current_app

    return current_app.config["BASE_URL"] + "/auth/login"
