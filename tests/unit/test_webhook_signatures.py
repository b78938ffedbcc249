"""Webhook authentication: a GitHub HMAC-SHA256 signature of the exact body, or GitLab's shared token.
Pure checks; the hub's handling of the requests (401s, no tracebacks) is tested against a served hub."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from fleet.hub.server import verify_github, verify_gitlab

SECRET = "s3cret"
BODY = b'{"ref": "refs/heads/main", "after": "0123"}'


def github_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_github_signature_of_the_body_is_accepted() -> None:
    assert verify_github(SECRET, BODY, github_signature(BODY))


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        github_signature(BODY, "other-secret"),
        github_signature(BODY + b" "),  # any change to the body
        github_signature(BODY).replace("sha256=", "sha1="),
        github_signature(BODY).upper(),
        github_signature(BODY)[:-1],
        github_signature(BODY) + "0",
        "sha256=" + "é" * 64,  # non-ASCII: compared, refused, never an exception
        "sha256=\udcff",
    ],
)
def test_anything_else_is_refused(signature: str | None) -> None:
    assert not verify_github(SECRET, BODY, signature)


def test_a_gitlab_token_must_match_exactly() -> None:
    assert verify_gitlab(SECRET, SECRET)
    for token in (None, "", SECRET + " ", SECRET.upper(), "s3cre", "ş3cret", "\udcff"):
        assert not verify_gitlab(SECRET, token), token
