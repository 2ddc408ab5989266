"""Survey link tokens: random, unguessable, stored only as their SHA-256.

The raw token travels in the invitation email and nowhere else, so a copy of the database
(a backup, a replica, a curious admin) holds nothing that opens a survey link.
"""

from __future__ import annotations

import hashlib
import re
import secrets

# 32 random bytes: 256 bits, 43 URL-safe characters.
TOKEN_BYTES = 32
# Longer strings are refused before hashing; nothing the app issues comes close.
MAX_TOKEN_LENGTH = 128
_URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def token_hash(raw_token: str) -> str:
    """The hex SHA-256 stored in SurveyInvitation.token_hash."""
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def token_new() -> tuple[str, str]:
    """A fresh (raw token, its hash) pair."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    return raw, token_hash(raw)


def token_is_well_formed(raw_token: str) -> bool:
    """Cheap shape check so junk from a scanner never reaches the database."""
    return 0 < len(raw_token) <= MAX_TOKEN_LENGTH and bool(_URL_SAFE.match(raw_token))
