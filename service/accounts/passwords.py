"""Password hashing (argon2) and the password policy: at least 12 characters, not a well-known
password (the list in common_passwords.txt), not the email address."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from service.accounts.errors import AccountError

MIN_LENGTH = 12
MAX_LENGTH = 1024
hasher = PasswordHasher()


def _normal(text: str) -> str:
    return "".join(text.lower().split())


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = resources.files("service.accounts").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(_normal(line) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(password: str, email: str = "") -> None:
    """AccountError saying what is wrong with a new password, if anything is."""
    if len(password) < MIN_LENGTH:
        raise AccountError(f"passwords need at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise AccountError(f"passwords can have at most {MAX_LENGTH} characters")
    normal = _normal(password)
    if normal in common_passwords():
        raise AccountError("this password is on a list of commonly used passwords; choose another")
    email = _normal(email)
    if email and normal in (email, email.split("@")[0]):
        raise AccountError("the password must not be the email address")


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False
