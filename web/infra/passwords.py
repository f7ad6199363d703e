"""Password policy and hashing (OWASP ASVS 5: length, breached/common list, argon2id)."""

from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from matcher.text import has_lone_surrogates

from ..domain.errors import N_, ValidationError

MIN_LENGTH = 8
MAX_LENGTH = 128
EXTRA_COMMON_PASSWORDS = Path(__file__).resolve().parents[2] / "data" / "security" / "common-passwords-zh.txt"

# argon2id with the RFC 9106 "second recommended" low-memory profile.
_hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)


@functools.lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most common passwords plus a list of common Chinese ones."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    lines = EXTRA_COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    extra = {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}
    return frozenset(FREQUENCY_LISTS["passwords"]) | extra


def check_password_policy(password: str, *, email: str = "", field: str = "password") -> None:
    problems = []
    if has_lone_surrogates(password):
        problems.append(N_("contains characters that are not valid text"))
    elif len(password) < MIN_LENGTH:
        problems.append(N_("must be at least %(min)s characters", min=MIN_LENGTH))
    elif len(password) > MAX_LENGTH:
        problems.append(N_("must be at most %(max)s characters", max=MAX_LENGTH))
    elif password.lower() in _common_passwords():
        problems.append(N_("is too common; choose a less guessable password"))
    elif email and password.lower() == email.lower():
        problems.append(N_("must not be the e-mail address"))
    if problems:
        raise ValidationError(N_("%(field)s %(problem)s", field=field, problem=problems[0]), fields={field: problems[0]})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# Verified against on unknown e-mail addresses so that timing does not reveal which exist.
DUMMY_HASH = _hasher.hash("not-a-real-account-password")
