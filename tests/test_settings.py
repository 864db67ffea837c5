"""Settings refuse what would be unsafe in production."""

import pytest
from pydantic import ValidationError

from worker.settings import Settings

SECRET = "x" * 40


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="SOJOURN_SECRET_KEY"):
        Settings(env="production", public_url="https://mail.example.com")


@pytest.mark.parametrize("url", [None, "http://mail.example.com", "ftp://mail.example.com"])
def test_production_needs_an_https_public_url(url: str | None) -> None:
    with pytest.raises(ValidationError, match="SOJOURN_PUBLIC_URL"):
        Settings(env="production", secret_key=SECRET, public_url=url)


@pytest.mark.parametrize("url", ["https://mail.example.com", "http://localhost:8000"])
def test_production_accepts_https_or_a_local_trial(url: str) -> None:
    assert Settings(env="production", secret_key=SECRET, public_url=url).public_url == url


def test_dev_defaults_need_nothing() -> None:
    settings = Settings(env="dev")
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.target == "127.0.0.1:7233"
