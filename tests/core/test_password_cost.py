"""Password hashes: argon2id at argon2-cffi's default cost, unless the test suite asks for cheap ones."""

from __future__ import annotations

import pytest

from salesplan import auth


@pytest.fixture
def fresh_hasher():
    auth._hasher.cache_clear()
    yield
    auth._hasher.cache_clear()


def test_a_server_hashes_at_the_default_cost(monkeypatch, fresh_hasher):
    monkeypatch.delenv(auth.INSECURE_TEST_HASHES_ENV, raising=False)
    stored = auth.hash_password("s3cret!")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert auth.verify_password(stored, "s3cret!") and not auth.verify_password(stored, "s3cret")


def test_the_suites_cheap_hashes_still_verify_and_a_real_hash_still_verifies_with_them(monkeypatch, fresh_hasher):
    monkeypatch.delenv(auth.INSECURE_TEST_HASHES_ENV, raising=False)
    real = auth.hash_password("s3cret!")
    auth._hasher.cache_clear()
    monkeypatch.setenv(auth.INSECURE_TEST_HASHES_ENV, "1")
    cheap = auth.hash_password("s3cret!")
    assert cheap.startswith("$argon2id$") and "m=65536" not in cheap
    # each hash carries its parameters: both verify whichever hasher checks them
    assert auth.verify_password(cheap, "s3cret!") and auth.verify_password(real, "s3cret!")
    assert not auth.verify_password(cheap, "wrong") and not auth.verify_password(real, "wrong")
