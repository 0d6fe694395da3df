"""compose.yaml and .env.example: the structure of the stack, and that every environment
variable the code reads is documented and reaches the bot container."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import AliasChoices

from bot.app.settings import Settings
from bot.platforms.run import DEFAULT_SLACK_PORT
from tests.conftest import REPO

COMPOSE_TEXT = (REPO / "compose.yaml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
# A variable of compose itself: ${NAME}, ${NAME:-default}, ${NAME:?error}
INTERPOLATED = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])[^}]*)?\}")
PASSWORD_REQUIRED = "${POSTGRES_PASSWORD:?"


def _bot() -> dict[str, Any]:
    return dict(COMPOSE["services"]["bot"])


def _db() -> dict[str, Any]:
    return dict(COMPOSE["services"]["db"])


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _image_env() -> dict[str, str]:
    """ENV of the Dockerfile's final stage (NAME=value pairs)."""
    final = DOCKERFILE[DOCKERFILE.index("AS final") :]
    return dict(re.findall(r"\b(POLICYBOT_[A-Z_]+)=(\S+)", final))


def code_variables() -> set[str]:
    """Every variable the code reads: Settings' fields (POLICYBOT_ + name, or the first of
    their aliases) and the POLICYBOT_* names the code quotes (read with os.environ)."""
    names: set[str] = set()
    other_aliases: set[str] = set()
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [str(c) for c in alias.choices]
            names.add(choices[0])
            other_aliases.update(choices[1:])
        else:
            names.add(prefix + field.upper())
    for path in (REPO / "bot").rglob("*.py"):
        names.update(re.findall(r"[\"'](POLICYBOT_[A-Z][A-Z0-9_]*)[\"']", path.read_text("utf-8")))
    return names - other_aliases


def env_example_variables() -> dict[str, bool]:
    """NAME -> whether it is set (not commented out) in .env.example."""
    found: dict[str, bool] = {}
    for line in ENV_EXAMPLE.splitlines():
        m = re.match(r"^(#\s*)?([A-Z_][A-Z0-9_]*)=", line)
        if m:
            found[m.group(2)] = m.group(1) is None
    return found


def readme_variables() -> set[str]:
    """The variables README's environment table documents."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Environment") :]
    section = section[: section.index("\n## ")]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z_][A-Z0-9_]*)`", row.split("|")[1]))
    assert names, "README's environment table was not found"
    return names


def compose_variables() -> set[str]:
    return {m.group(1) for m in INTERPOLATED.finditer(COMPOSE_TEXT)}


# -- structure ---------------------------------------------------------------------------------


def test_two_services_postgres_and_the_bot() -> None:
    assert set(COMPOSE["services"]) == {"db", "bot"}
    assert str(_db()["image"]).startswith("postgres:")
    build = _bot()["build"]
    assert build["context"] == "."
    assert (REPO / build.get("dockerfile", "Dockerfile")).is_file()
    assert _bot()["depends_on"]["db"]["condition"] == "service_healthy"


def test_restart_policy_and_healthchecks() -> None:
    for name in ("db", "bot"):
        service = COMPOSE["services"][name]
        assert service.get("restart") in ("unless-stopped", "always"), name
        check = service.get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"
    bot_check = " ".join(_bot()["healthcheck"]["test"])
    assert "/healthz" in bot_check and "POLICYBOT_METRICS_PORT" in bot_check
    # the image sets the metrics port the health check uses
    assert _image_env().get("POLICYBOT_METRICS_PORT")


def test_no_default_database_password() -> None:
    assert _environment(_db())["POSTGRES_PASSWORD"].startswith(PASSWORD_REQUIRED)
    url = _environment(_bot())["DATABASE_URL"]
    assert PASSWORD_REQUIRED in url and "@db:5432/" in url
    assert url.startswith("postgresql+psycopg://")
    for m in INTERPOLATED.finditer(COMPOSE_TEXT):
        if m.group(1) == "POSTGRES_PASSWORD":
            assert m.group(2) == ":?", f"a default password: {m.group(0)}"
    assert env_example_variables().get("POSTGRES_PASSWORD") is True  # a line to fill in
    assert re.search(r"^POSTGRES_PASSWORD=\s*$", ENV_EXAMPLE, re.M), "no password in the example"


def test_http_mode_port_is_published_and_scales() -> None:
    (mapping,) = _bot()["ports"]
    parts = re.fullmatch(r"(\$\{[^}]*\}):(\$\{[^}]*\})", str(mapping))
    assert parts, f"expected ${{host}}:${{container}}, got {mapping}"
    host, container = parts.groups()
    # the container side follows POLICYBOT_SLACK_HTTP_PORT, default the code's
    assert container == f"${{POLICYBOT_SLACK_HTTP_PORT:-{DEFAULT_SLACK_PORT}}}"
    # the host side is a range by default, so `--scale bot=2` gives each replica a port
    m = re.fullmatch(r"\$\{POLICYBOT_HTTP_PUBLISH:-(?:[0-9.]+:)?(\d+)-(\d+)\}", host)
    assert m, host
    assert int(m.group(2)) - int(m.group(1)) >= 1
    bot = _bot()
    assert "container_name" not in bot, "a fixed container name forbids a second replica"
    replicas = (bot.get("deploy") or {}).get("replicas", 1)
    assert str(replicas).isdigit() or str(replicas).startswith("${")
    assert "--scale bot=2" in COMPOSE_TEXT  # documented at the top of the file


def test_mounts_match_the_image() -> None:
    image = _image_env()
    volumes = [str(v) for v in _bot()["volumes"]]
    assert f"./feeds.yaml:{image['POLICYBOT_FEEDS']}:ro" in volumes
    assert any(v.split(":")[1] == image["POLICYBOT_DATA_DIR"] for v in volumes)
    named = {v.split(":")[0] for v in volumes + [str(v) for v in _db()["volumes"]]}
    for name in named - {"./feeds.yaml"}:
        assert name in COMPOSE["volumes"], name


# -- variables ---------------------------------------------------------------------------------


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    missing = code_variables() - set(env_example_variables())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_every_readme_variable_is_in_env_example() -> None:
    missing = readme_variables() - set(env_example_variables())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_lists_nothing_the_code_does_not_read() -> None:
    known = code_variables() | compose_variables()
    extra = {
        name
        for name in env_example_variables()
        if name not in known and "_WEBHOOK_" not in name  # webhook names are the user's
    }
    assert not extra, f".env.example documents {sorted(extra)}, which nothing reads"


def test_env_example_comments_every_variable() -> None:
    lines = ENV_EXAMPLE.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^(#\s*)?[A-Z_][A-Z0-9_]*=", line):
            above = lines[i - 1] if i else ""
            assert above.startswith("#") and not re.match(r"^#\s*[A-Z_][A-Z0-9_]*=", above), (
                f"{line!r} has no comment line above it"
            )


def test_every_documented_variable_reaches_the_bot() -> None:
    """.env goes to the bot whole (env_file), so every line of it reaches the container;
    compose's own `environment:` overrides nothing a user sets but the database URL, which
    points at the compose database; the variables compose itself reads are in .env.example."""
    env_files = _bot()["env_file"]
    paths = [e if isinstance(e, str) else e["path"] for e in env_files]
    assert ".env" in paths
    assert "env_file" not in _db(), "the database container gets no bot tokens"
    documented = set(env_example_variables()) | readme_variables() | code_variables()
    overridden = set(_environment(_bot())) & documented
    assert overridden <= {"DATABASE_URL"}, f"compose overrides {sorted(overridden)}"
    assert "compose sets it" in ENV_EXAMPLE  # said where DATABASE_URL is documented
    missing = compose_variables() - set(env_example_variables())
    assert not missing, f"compose reads {sorted(missing)}: document them in .env.example"


def test_set_lines_never_blank_a_default_of_the_image() -> None:
    """An empty VAR= in .env would reach the container and hide the image's ENV default
    (the metrics port the health check uses): such variables stay commented out."""
    image = _image_env()
    for name, is_set in env_example_variables().items():
        if name in image:
            assert not is_set, f"{name}= in .env.example would blank the image's {image[name]}"
