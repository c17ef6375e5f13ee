"""Where the CLI finds the API's URL and a token: the flags (--url, --token), then the
environment (TENANTRY_URL, TENANTRY_TOKEN), then the config file, each setting on its
own (a token from the environment and the URL from the file is fine).

The config file is $TENANTRY_CONFIG, or config.toml in $XDG_CONFIG_HOME/tenantry
(~/.config/tenantry by default): a flat TOML table that `tenantry login` writes, readable
by its owner only (mode 0600, in a directory of mode 0700), since it holds a token:

    url = "http://127.0.0.1:3000"
    token = "tnt_..."
    ws_url = "wss://console.example.com/ws"     # optional: where `projects watch` connects
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KEYS = ("url", "token", "ws_url")


class ConfigError(Exception):
    pass


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("TENANTRY_CONFIG"):
        return Path(env["TENANTRY_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base) / "tenantry" / "config.toml"


def load(path: Path) -> dict[str, str]:
    """The file's settings ({} when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from e
    return {k: v for k, v in data.items() if k in KEYS and isinstance(v, str) and v}


def save(path: Path, settings: Mapping[str, str | None]) -> None:
    """Write the settings (None removes one) over the file's, atomically, mode 0600."""
    current = load(path)
    for key, value in settings.items():
        if key not in KEYS:
            raise ConfigError(f"unknown setting {key!r}")
        if value:
            current[key] = value
        else:
            current.pop(key, None)
    lines = ["# Written by `tenantry login`. Holds an API token: keep it to yourself.\n"]
    # A JSON string is a valid TOML basic string (\" \\ \n \t \uXXXX escapes).
    lines += [f"{key} = {json.dumps(current[key])}\n" for key in KEYS if key in current]
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)  # created mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(lines)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Settings:
    url: str | None
    token: str | None
    ws_url: str | None
    path: Path
    sources: dict[str, str]  # setting -> "flag", "env" or "config"


def resolve(
    *,
    url: str | None = None,
    token: str | None = None,
    ws_url: str | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Each setting from its flag, else its variable, else the config file."""
    env = os.environ if env is None else env
    path = path or config_path(env)
    stored = load(path)
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for key, flag, var in (
        ("url", url, "TENANTRY_URL"),
        ("token", token, "TENANTRY_TOKEN"),
        ("ws_url", ws_url, "TENANTRY_WS_URL"),
    ):
        for source, value in (("flag", flag), ("env", env.get(var)), ("config", stored.get(key))):
            if value:
                values[key], sources[key] = value, source
                break
        else:
            values[key] = None
    return Settings(values["url"], values["token"], values["ws_url"], path, sources)
