"""The config file: TOML, every key optional. A broken file gives one line naming file, key and problem.

Keys are declared once in SCHEMA with their type and default; README's config section lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from runq import paths
from runq.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# section -> key -> (accepted types, default). A list default means "list of strings".
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "daemon": {
        # argv template; "{command}" is replaced by the task's command string.
        "shell": ((list,), None),
        # exec a plain command line (words only, not a builtin) without starting bash, as bash
        # itself would exec it; only with bash as the shell (see runq/engine/direct.py)
        "direct_exec": ((bool,), True),
        "callback": ((str,), None),
        "callback_log_lines": ((int,), 10),
        "pause_group_on_failure": ((bool,), False),
        "pause_all_on_failure": ((bool,), False),
        # seconds between SIGTERM and SIGKILL for timeouts and `run` interrupts escalation
        "kill_grace": ((int, float), 5.0),
        # seconds before the first retry of a failed attempt; doubles per attempt, capped at 60 s
        "retry_backoff": ((int, float), 1.0),
        # what `runq shutdown` / SIGTERM does with running tasks: "detach" leaves them running for
        # the next daemon to adopt, "wait" waits for them, "kill" kills them (pueue's behaviour).
        "shutdown_policy": ((str,), "detach"),
        # sqlite synchronous mode for the state database: "normal" survives process crashes,
        # "full" also survives power loss at the cost of an fsync per change.
        "durability": ((str,), "normal"),
    },
    "logs": {
        # per-task log cap in bytes: past it runq keeps the head and the tail and marks the cut.
        "max_bytes": ((int,), 8 * 1024 * 1024),
    },
    "history": {
        "max_rows": ((int,), 1_000_000),
        "redact_names": ((list,), []),
        "redact_values": ((list,), []),
        "keep_names": ((list,), []),
    },
    "hook": {
        "never_wrap": ((list,), []),
        "always_wrap": ((list,), []),
        # seconds; written into the settings entry by `runq hook install`
        "timeout": ((int,), 10),
    },
}


@dataclass(frozen=True)
class Config:
    path: str
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]


def defaults(path: str = "") -> Config:
    return Config(path, {s: {k: d for k, (_, d) in keys.items()} for s, keys in SCHEMA.items()})


def load(root: str | None = None, path: str | None = None) -> Config:
    path = path or paths.config_file(root or paths.home())
    config = defaults(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return config
    except OSError as exc:
        raise ConfigError(f"runq: cannot read config {path}: {exc.strerror}") from None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"runq: config {path}: invalid TOML: {exc}") from None
    for section, table in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"runq: config {path}: unknown section [{section}]")
        if not isinstance(table, dict):
            raise ConfigError(f"runq: config {path}: [{section}] must be a table")
        for key, value in table.items():
            config.values[section][key] = _check(path, section, key, value)
    _check_choices(config)
    return config


def _check(path: str, section: str, key: str, value: Any) -> Any:
    spec = SCHEMA[section].get(key)
    if spec is None:
        raise ConfigError(f"runq: config {path}: unknown key {section}.{key}")
    types, _ = spec
    if isinstance(value, bool) and bool not in types:
        value_ok = False
    else:
        value_ok = isinstance(value, types)
    if value_ok and list in types and not all(isinstance(item, str) for item in value):
        value_ok = False
    if not value_ok:
        wanted = " or ".join("list of strings" if t is list else t.__name__ for t in types)
        raise ConfigError(f"runq: config {path}: {section}.{key} must be {wanted}, not {type(value).__name__}")
    return value


def _check_choices(config: Config) -> None:
    choices = {("daemon", "shutdown_policy"): ("detach", "wait", "kill"),
               ("daemon", "durability"): ("normal", "full")}
    for (section, key), allowed in choices.items():
        if config.values[section][key] not in allowed:
            raise ConfigError(f"runq: config {config.path}: {section}.{key} must be one of {', '.join(allowed)}")
    if config.values["logs"]["max_bytes"] < 4096:
        raise ConfigError(f"runq: config {config.path}: logs.max_bytes must be at least 4096")
    if config.values["daemon"]["shell"] is not None and not config.values["daemon"]["shell"]:
        raise ConfigError(f"runq: config {config.path}: daemon.shell must not be empty")


