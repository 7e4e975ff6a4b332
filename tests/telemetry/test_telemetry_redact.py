"""Redaction: every secret-looking name and credential format goes, ordinary variables stay."""
from __future__ import annotations

import pytest

from runq import config as runq_config
from runq.errors import ConfigError
from runq.telemetry.redact import REDACTED, redact_env

SECRET_NAMES = [
    "GITHUB_TOKEN", "NPM_TOKEN", "MY_SECRET", "CLIENT_SECRET_VALUE", "DB_PASSWORD", "PGPASSWORD", "HTPASSWD",
    "GPG_PASSPHRASE", "API_KEY", "OPENAI_API_KEY", "APIKEY", "SSH_KEY", "STRIPE_KEYS", "DB_PASS", "MYSQL_PWD",
    "GOOGLE_APPLICATION_CREDENTIALS", "AWS_SHARED_CREDENTIALS_FILE", "AUTH", "OAUTH_CLIENT", "BASIC_AUTH",
    "AUTHORIZATION", "HTTP_AUTHTOKEN", "SESSION", "SESSION_ID", "FLASK_SESSION_COOKIE", "COOKIE", "PRIVATE_KEY_PEM",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID", "ARM_CLIENT_SECRET", "GCP_SERVICE_ACCOUNT", "SENTRY_DSN", "github_token",
]

SECRET_VALUES = {
    "ghp_": "ghp_" + "A1b2C3d4E5" * 4,
    "gho_": "gho_" + "z9Y8x7W6v5" * 4,
    "ghu_": "ghu_" + "a" * 36,
    "ghs_": "ghs_" + "B" * 36,
    "ghr_": "ghr_" + "c1" * 18,
    "github_pat_": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
    "sk-": "sk-" + "Abc123Def456Ghi789Jkl012Mno345",
    "sk-proj-": "sk-proj-" + "x" * 40,
    "sk-ant-": "sk-ant-api03-" + "Q" * 80,
    "xoxb-": "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "xoxa-": "xoxa-2-1234567890-abcdefabcdef",
    "xoxp-": "xoxp-1234567890-1234567890-abcdefabcdef",
    "xoxr-": "xoxr-1234567890-abcdefabcdef",
    "xapp-": "xapp-1-A0123456789-1234567890123-abcdef0123456789",
    "AKIA": "AKIAIOSFODNN7EXAMPLE",
    "ASIA": "ASIAY34FZKBOKMUTVV7A",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "rsa private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "openssh private key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
    "pkcs8 private key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    "pgp private key": "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
    "google api key": "AIza" + "SyA1234567890abcdefghijklmnopqrstuv",
    "gitlab": "glpat-" + "abcdefghij0123456789",
    "stripe": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "npm": "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "pypi": "pypi-AgEIcHlwaS5vcmc" + "A" * 60,
    "huggingface": "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH",
    "password in url": "postgres://app:hunter2@db.internal:5432/app",
    "bearer header": "Authorization: Bearer abcdef0123456789abcdef0123456789",
    "token inside a longer value": "--header=x --token=ghp_" + "Z" * 36 + " --verbose",
}

ORDINARY = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/agent", "PWD": "/work/repo", "OLDPWD": "/work",
    "USER": "agent", "SHELL": "/bin/bash", "LANG": "C.UTF-8", "TERM": "xterm-256color", "EDITOR": "vim",
    "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "KEYBOARD_LAYOUT": "us", "XKB_KEYMAP": "us",
    "COMPASS_DIR": "/x", "PASSTHROUGH": "1", "SSH_AUTH_SOCK": "/run/user/1000/ssh.sock",
    "XDG_SESSION_TYPE": "wayland", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
    "VIRTUAL_ENV": "/work/repo/.venv", "CARGO_HOME": "/home/agent/.cargo", "RUST_LOG": "debug",
    "PYTHONPATH": "src", "NODE_ENV": "production", "CI": "true", "DATABASE_URL": "postgres://db.internal/app",
    "REPO_URL": "https://github.com/owner/repo", "GIT_SSH_URL": "ssh://git@github.com/owner/repo",
    "SKETCH": "sk-short", "DESCRIPTION": "tokens are counted per request",
}


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_looking_names_are_redacted(name: str) -> None:
    assert redact_env({name: "plain-value"}) == {name: REDACTED}


@pytest.mark.parametrize("kind", sorted(SECRET_VALUES))
def test_credential_formats_are_redacted_whatever_the_name(kind: str) -> None:
    assert redact_env({"SOME_SETTING": SECRET_VALUES[kind]}) == {"SOME_SETTING": REDACTED}


def test_ordinary_variables_are_left_alone() -> None:
    assert redact_env(ORDINARY) == ORDINARY


def test_redaction_returns_a_copy_and_keeps_every_name() -> None:
    env = {"GITHUB_TOKEN": "x", "PATH": "/bin"}
    redacted = redact_env(env)
    assert env == {"GITHUB_TOKEN": "x", "PATH": "/bin"}
    assert list(redacted) == ["GITHUB_TOKEN", "PATH"]


def _config(**history: list[str]) -> runq_config.Config:
    config = runq_config.defaults()
    config.values["history"].update(history)
    return config


def test_configured_names_values_and_keeps() -> None:
    config = _config(redact_names=["MYCO_*", "PIN"], redact_values=[r"^internal-[0-9a-f]{8}$"],
                     keep_names=["SESSION_ID", "aws_region"])
    env = {"MYCO_ENDPOINT": "https://x", "CARD_PIN": "1234", "BUILD_ID": "internal-deadbeef",
           "SESSION_ID": "abc", "AWS_REGION": "eu-west-1", "OTHER": "internal-nothex!"}
    assert redact_env(env, config) == {"MYCO_ENDPOINT": REDACTED, "CARD_PIN": REDACTED, "BUILD_ID": REDACTED,
                                       "SESSION_ID": "abc", "AWS_REGION": "eu-west-1", "OTHER": "internal-nothex!"}


def test_a_kept_name_still_keeps_a_credential_shaped_value_visible_only_when_asked() -> None:
    # keep_names is the user's explicit word: that variable is shown as is
    config = _config(keep_names=["DEPLOY_NOTE"])
    token = SECRET_VALUES["ghp_"]
    assert redact_env({"DEPLOY_NOTE": token}, config) == {"DEPLOY_NOTE": token}
    assert redact_env({"DEPLOY_NOTE": token}) == {"DEPLOY_NOTE": REDACTED}


def test_a_bad_configured_pattern_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"history.redact_values: bad pattern '\(unclosed'"):
        redact_env({"A": "b"}, _config(redact_values=["(unclosed"]))
