"""Redact secrets from an environment before runq stores or shows it.

A variable is redacted when its name looks secret (TOKEN, SECRET, PASSWORD, KEY, AUTH, SESSION,
cloud prefixes, ...) or its value looks like a known credential format (GitHub and OpenAI tokens,
AWS key ids, JWTs, private key blocks, passwords in URLs, ...). The whole value is replaced by
REDACTED: a partly masked token still leaks its prefix and length for nothing.

Imported by the daemon: `re` and the patterns load on first use, not at import.
"""
from __future__ import annotations

import functools

from runq.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

    from runq.config import Config

REDACTED = "[REDACTED]"

# A name containing any of these (case-insensitively) is secret.
SECRET_NAME_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "COOKIE",
                     "PRIVATE", "SESSION", "APIKEY")
# These only count as a whole `_`-separated part (DB_PASS, MYSQL_PWD, SENTRY_DSN; not COMPASS or
# PASSTHROUGH), KEY also as a part's ending (API_KEY, APIKEY, SSHKEY; not KEYBOARD or KEYMAP).
SECRET_NAME_PARTS = frozenset({"PASS", "PWD", "DSN"})
SECRET_NAME_PART_ENDINGS = ("KEY", "KEYS")
SECRET_NAME_PREFIXES = ("AWS_", "AZURE_", "ARM_", "GCP_", "GOOGLE_APPLICATION_CREDENTIALS")
# Ordinary variables that the rules above would catch: the cwd, desktop session plumbing, agent sockets.
KEEP_NAMES = frozenset({
    "PWD", "OLDPWD", "SSH_AUTH_SOCK", "SSH_AGENT_PID", "GPG_AGENT_INFO", "DESKTOP_SESSION", "SESSION_MANAGER",
    "DBUS_SESSION_BUS_ADDRESS", "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_SESSION_CLASS", "XDG_SESSION_DESKTOP",
    "XDG_SESSION_PATH", "XDG_SEAT_PATH", "KEYTIMEOUT", "XKB_DEFAULT_OPTIONS", "HISTCONTROL",
})

# Known credential formats; a value containing any of them is secret.
SECRET_VALUE_PATTERNS = (
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens: personal, OAuth, user-to-server, server, refresh
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",  # GitHub fine-grained personal access tokens
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}",  # Anthropic and OpenAI API keys
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",  # Slack bot, user, app and refresh tokens
    r"\bxapp-[0-9]-[A-Za-z0-9\-]{10,}",  # Slack app-level tokens
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b",  # AWS access key and principal ids
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",  # JWTs (signature may be empty)
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",  # PEM, OpenSSH and PGP private keys
    r"\bAIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"\bglpat-[A-Za-z0-9_\-]{20,}",  # GitLab personal access tokens
    r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe secret and restricted keys
    r"\bnpm_[A-Za-z0-9]{36}\b",  # npm tokens
    r"\bpypi-[A-Za-z0-9_\-]{50,}",  # PyPI upload tokens
    r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face tokens
    r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:[^/\s@]+@",  # a password inside a URL: scheme://user:pass@host
    r"\b[Bb]earer\s+[A-Za-z0-9._~+/\-]{16,}",  # an Authorization header value
)

# Every built-in value pattern contains one of these; a value with none skips the regex, which is
# what keeps redacting a typical environment cheap.
SECRET_VALUE_LITERALS = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-", "xox", "xapp-", "AKIA", "ASIA",
                         "AGPA", "AIDA", "AROA", "ANPA", "eyJ", "PRIVATE KEY", "AIza", "glpat-", "k_live_",
                         "k_test_", "npm_", "pypi-", "hf_", "://", "earer")
MEMO_LIMIT = 4096  # verdicts remembered per rule set: a daemon sees the same few environments again and again


def redact_env(env: dict[str, str], config: Config | None = None) -> dict[str, str]:
    """A copy of `env` with secret values replaced by REDACTED."""
    rules = _rules(*_config_lists(config))
    return {name: REDACTED if rules.is_secret(name, value) else value for name, value in env.items()}


def check_config(config: Config) -> None:
    """Raise ConfigError when [history] redaction settings cannot be used (a bad regex)."""
    try:
        _rules(*_config_lists(config))
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("runq: config:", f"runq: config {config.path}:", 1)) from None


def _config_lists(config: Config | None) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    if config is None:
        return (), (), ()
    return (tuple(config.get("history", "redact_names")), tuple(config.get("history", "redact_values")),
            tuple(config.get("history", "keep_names")))


class _Rules:
    def __init__(self, extra_names: tuple[str, ...], builtin_values: re.Pattern[str],
                 extra_values: re.Pattern[str] | None, keep_names: tuple[str, ...]) -> None:
        self.extra_names = extra_names
        self.builtin_values = builtin_values
        self.extra_values = extra_values
        self.keep_names = keep_names
        self.name_verdicts: dict[str, bool | None] = {}
        self.value_verdicts: dict[str, bool | None] = {}

    def is_secret(self, name: str, value: str) -> bool:
        by_name = self.name_verdicts[name] if name in self.name_verdicts else self._judge_name(name)
        if by_name is not None:
            return by_name
        remembered = self.value_verdicts.get(value)
        if remembered is not None:
            return remembered
        verdict = self._judge_value(value)
        if len(value) < 4096:
            _remember(self.value_verdicts, value, verdict)
        return verdict

    def _judge_name(self, name: str) -> bool | None:
        """True: secret by name; False: kept whatever its value; None: depends on the value."""
        upper = name.upper()
        if upper in KEEP_NAMES or _matches_any(upper, self.keep_names):
            verdict: bool | None = False
        elif _name_is_secret(upper) or _matches_any(upper, self.extra_names):
            verdict = True
        else:
            verdict = None
        _remember(self.name_verdicts, name, verdict)
        return verdict

    def _judge_value(self, value: str) -> bool:
        if any(literal in value for literal in SECRET_VALUE_LITERALS) and self.builtin_values.search(value):
            return True
        return self.extra_values is not None and self.extra_values.search(value) is not None


def _remember(memo: dict[str, bool | None], key: str, verdict: bool | None) -> None:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = verdict


@functools.lru_cache(maxsize=8)
def _rules(extra_names: tuple[str, ...], extra_values: tuple[str, ...], keep_names: tuple[str, ...]) -> _Rules:
    import re

    for pattern in extra_values:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"runq: config: history.redact_values: bad pattern {pattern!r}: {exc}") from None
    builtin_values = re.compile("|".join(f"(?:{p})" for p in SECRET_VALUE_PATTERNS))
    extra = re.compile("|".join(f"(?:{p})" for p in extra_values)) if extra_values else None
    return _Rules(tuple(n.upper() for n in extra_names), builtin_values, extra, tuple(n.upper() for n in keep_names))


def _name_is_secret(upper: str) -> bool:
    if any(word in upper for word in SECRET_NAME_WORDS) or upper.startswith(SECRET_NAME_PREFIXES):
        return True
    if any(part in SECRET_NAME_PARTS or part.endswith(SECRET_NAME_PART_ENDINGS) for part in upper.split("_")):
        return True
    return _has_auth_part(upper)


def _has_auth_part(upper: str) -> bool:
    # AUTH, OAUTH, AUTHORIZATION and AUTHTOKEN are secret; GIT_AUTHOR_NAME is not.
    for part in upper.split("_"):
        if "AUTH" in part and not ("AUTHOR" in part and "AUTHORIZ" not in part):
            return True
    return False


def _matches_any(upper: str, patterns: tuple[str, ...]) -> bool:
    """Config patterns: a glob (`MYCO_*`) matches the whole name; a plain word matches inside it."""
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            import fnmatch

            if fnmatch.fnmatchcase(upper, pattern):
                return True
        elif pattern in upper:
            return True
    return False
