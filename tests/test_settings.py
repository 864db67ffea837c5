"""Settings refuse what would be unsafe in production."""

import pytest
from pydantic import ValidationError

from activities.policy import MessagingPolicy
from worker.settings import Settings

SECRET = "x" * 40
CONTACT_SECRET = "c" * 40
# What production needs besides the secrets: a real master key and an admin key.
PRIVACY = {"master_key": "m" * 40, "admin_keys": ["a" * 40], "write_keys": ["k" * 24]}
SAFE = {
    "secret_key": SECRET,
    "contact_key_secret": CONTACT_SECRET,
    **PRIVACY,
    "write_keys": ["k" * 24],
}


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="SOJOURN_SECRET_KEY"):
        Settings(env="production", public_url="https://mail.example.com", contact_key_secret=SECRET)


@pytest.mark.parametrize("keys", ["a", "x" * 31, f"{SECRET},short"])
def test_production_refuses_a_secret_shorter_than_32_bytes(
    monkeypatch: pytest.MonkeyPatch, keys: str
) -> None:
    monkeypatch.setenv("SOJOURN_SECRET_KEYS", keys)
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(env="production", public_url="https://mail.example.com", contact_key_secret=SECRET)


def test_production_refuses_the_placeholder_contact_key_secret() -> None:
    with pytest.raises(ValidationError, match="SOJOURN_CONTACT_KEY_SECRET"):
        Settings(env="production", secret_key=SECRET, public_url="https://mail.example.com")


def test_secret_keys_are_comma_separated_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = "n" * 32, "o" * 32
    monkeypatch.setenv("SOJOURN_SECRET_KEYS", f" {new}, {old} ,")
    settings = Settings(env="production", public_url="https://m.example.com", **SAFE)
    assert settings.link_keys == [new, old]
    policy = MessagingPolicy.from_settings(settings)
    assert (policy.secret_key, policy.secret_keys) == (new, [new, old])
    assert new not in repr(settings) and old not in repr(settings)


def test_secret_key_alone_is_the_one_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOJOURN_SECRET_KEY", SECRET)
    assert Settings().link_keys == [SECRET]


@pytest.mark.parametrize("url", [None, "http://mail.example.com", "ftp://mail.example.com"])
def test_production_needs_an_https_public_url(url: str | None) -> None:
    with pytest.raises(ValidationError, match="SOJOURN_PUBLIC_URL"):
        Settings(env="production", public_url=url, **SAFE)


@pytest.mark.parametrize("url", ["https://mail.example.com", "http://localhost:8000"])
def test_production_accepts_https_or_a_local_trial(url: str) -> None:
    assert Settings(env="production", public_url=url, **SAFE).public_url == url


def test_dev_defaults_need_nothing() -> None:
    settings = Settings(env="dev")
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.target == "127.0.0.1:7233"


URL = "https://mail.example.com"


@pytest.mark.parametrize("master_key", [None, "short"])
def test_production_needs_a_real_master_key(master_key: str | None) -> None:
    given = {k: v for k, v in SAFE.items() if k != "master_key"}
    if master_key:
        given["master_key"] = master_key
    with pytest.raises(ValidationError, match="SOJOURN_MASTER_KEY"):
        Settings(env="production", public_url=URL, **given)


def test_production_with_admin_endpoints_needs_admin_keys() -> None:
    given = {k: v for k, v in SAFE.items() if k != "admin_keys"}
    with pytest.raises(ValidationError, match="SOJOURN_ADMIN_KEYS"):
        Settings(env="production", public_url=URL, **given)
    off = Settings(env="production", public_url=URL, admin_api=False, **given)
    assert off.admin_keys == []


def test_admin_keys_come_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOJOURN_ADMIN_KEYS", "one, two,,three")
    assert Settings(env="dev").admin_keys == ["one", "two", "three"]


@pytest.mark.parametrize("keys", [[], ["sojourn-dev-write-key"]])
def test_production_needs_write_keys_of_its_own(keys: list[str]) -> None:
    with pytest.raises(ValidationError, match="SOJOURN_WRITE_KEYS"):
        Settings(env="production", public_url="https://x.test", **{**SAFE, "write_keys": keys})


def test_write_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOJOURN_WRITE_KEYS", " key-one,key-two ,, ")
    assert Settings(env="dev").accepted_write_keys == ["key-one", "key-two"]


def test_dev_accepts_the_documented_dev_key_when_none_is_set() -> None:
    assert Settings(env="dev").accepted_write_keys == ["sojourn-dev-write-key"]


def test_production_refuses_a_dev_time_scale() -> None:
    with pytest.raises(ValidationError, match="SOJOURN_DEV_TIME_SCALE=3600 speeds journeys up"):
        Settings(env="production", public_url=URL, dev_time_scale=3600, **SAFE)
    assert Settings(env="production", public_url=URL, dev_time_scale=1, **SAFE).dev_time_scale == 1


def test_the_dev_time_scale_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOJOURN_DEV_TIME_SCALE", "3600")
    assert Settings().dev_time_scale == 3600.0
    monkeypatch.setenv("SOJOURN_DEV_TIME_SCALE", "0")
    with pytest.raises(ValidationError, match="dev_time_scale"):
        Settings()
