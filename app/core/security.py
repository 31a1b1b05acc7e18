"""Tokens, passwords and API keys. python-jose is used only here: one pinned algorithm, every claim required."""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from jose import JWTError, jwt

from app.core.config import get_settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "tid", "typ", "jti")
TokenType = Literal["access", "refresh"]

_hasher = PasswordHasher()


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class TokenClaims:
    subject: uuid.UUID
    tenant_id: uuid.UUID
    token_type: TokenType
    jti: uuid.UUID
    expires_at: datetime
    family_id: uuid.UUID | None = None


def create_token(subject: uuid.UUID, tenant_id: uuid.UUID, token_type: TokenType, *, jti: uuid.UUID | None = None,
                 family_id: uuid.UUID | None = None) -> tuple[str, TokenClaims]:
    settings = get_settings()
    ttl = settings.access_token_ttl_seconds if token_type == "access" else settings.refresh_token_ttl_seconds
    now = datetime.now(UTC)
    claims = TokenClaims(subject, tenant_id, token_type, jti or uuid.uuid4(), now + timedelta(seconds=ttl), family_id)
    payload = {
        "sub": str(subject),
        "tid": str(tenant_id),
        "typ": token_type,
        "jti": str(claims.jti),
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    if family_id is not None:
        payload["fam"] = str(family_id)
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM), claims


def decode_token(token: str, expected_type: TokenType) -> TokenClaims:
    """The claims of a valid token of `expected_type`. A token's signature and fixed claims are verified
    once and remembered (it is sent with every request); its expiry is checked on every call."""
    global _verified_under
    settings = get_settings()
    if settings is not _verified_under:  # other settings (a secret, issuer or audience) verify afresh
        _verified.cache_clear()
        _verified_under = settings
    claims, expires = _verified(token)
    if expires < int(_now()):  # python-jose's rule: expired once `exp` is in the past
        raise InvalidToken("Signature has expired.")
    if claims.token_type != expected_type:
        raise InvalidToken("wrong token type")
    if expected_type == "refresh" and claims.family_id is None:
        raise InvalidToken("refresh token without family")
    return claims


def _now() -> float:
    return time.time()


_verified_under: object = None


@lru_cache(maxsize=4096)
def _verified(token: str) -> tuple[TokenClaims, int]:
    """Signature, algorithm, issuer, audience and the presence of every claim, checked by python-jose.
    Raises InvalidToken (never cached). Keyed by the whole token, so only a token this process has
    verified itself is ever served from here."""
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected algorithm")
        payload = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={f"require_{claim}": True for claim in ("exp", "iat", "iss", "aud", "sub", "jti")},
        )
        if any(claim not in payload for claim in REQUIRED_CLAIMS):
            raise InvalidToken("missing claim")
        if payload["typ"] not in ("access", "refresh"):
            raise InvalidToken("unknown token type")
        family = payload.get("fam")
        expires = int(payload["exp"])
        return TokenClaims(
            subject=uuid.UUID(payload["sub"]),
            tenant_id=uuid.UUID(payload["tid"]),
            token_type=payload["typ"],
            jti=uuid.UUID(payload["jti"]),
            expires_at=datetime.fromtimestamp(expires, UTC),
            family_id=uuid.UUID(family) if family else None,
        ), expires
    except (JWTError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise InvalidToken(str(exc)) from exc


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A dummy hash to verify against when the email is unknown, so timing does not reveal which emails exist.
DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))

API_KEY_PREFIX = "al"


def generate_api_key() -> tuple[str, str, str]:
    """Returns (full key shown once, public prefix, hash to store). Keys carry 256 bits of entropy,
    so a plain SHA-256 is the right tool (argon2 is for low-entropy secrets such as passwords)."""
    prefix = f"{API_KEY_PREFIX}_{secrets.token_hex(6)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_prefix(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != API_KEY_PREFIX:
        return None
    return f"{parts[0]}_{parts[1]}"
