"""The product's secrets: generated once per install (0600 in 0700), reused, refused missing in prod."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.container import ConfigError, build_container, load_secrets
from api.settings import AppSettings
from core.secrets import JWT_SECRET, PRODUCT_SECRETS, SecretError, SecretStore, create_secret_file

SECRET_SETTINGS = [s.setting for s in PRODUCT_SECRETS] + [s.file_setting for s in PRODUCT_SECRETS]
VEIL = str(Path(sys.executable).with_name("veil"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def bare_env(monkeypatch, tmp_path) -> Path:
    """No secret in the environment; secrets and the audit key under tmp_path/var/secrets."""
    for name in [*SECRET_SETTINGS, "VEIL_AUDIT_CHECKPOINT_KEY_FILE", "VEIL_AUDIT_AUTO_CREATE_KEY",
                 "VEIL_SECRETS_GENERATE"]:
        monkeypatch.delenv(name, raising=False)
    directory = tmp_path / "var" / "secrets"
    monkeypatch.setenv("VEIL_SECRETS_DIR", str(directory))
    return directory


def test_first_start_generates_private_files_and_a_restart_reuses_them(bare_env):
    first = load_secrets(env="dev")
    names = sorted(p.name for p in bare_env.iterdir())
    assert names == sorted([s.name for s in PRODUCT_SECRETS])
    assert mode(bare_env) == 0o700 and all(mode(bare_env / n) == 0o600 for n in names)
    before = {n: ((bare_env / n).read_bytes(), (bare_env / n).stat().st_mtime_ns) for n in names}
    assert len({v[0] for v in before.values()}) == len(names)  # every secret its own random value
    assert len(first.auth.jwt_secret) >= 48 and first.privacy.hmac_key and first.neo.password
    second = load_secrets(env="dev")  # a restart
    assert {n: ((bare_env / n).read_bytes(), (bare_env / n).stat().st_mtime_ns) for n in names} == before
    assert (second.auth.jwt_secret, second.privacy.hmac_key, second.neo.password) == (
        first.auth.jwt_secret, first.privacy.hmac_key, first.neo.password)
    assert "jwt_secret" not in repr(first.auth) or first.auth.jwt_secret not in repr(first.auth)


def test_concurrent_first_starts_agree_on_one_value(tmp_path):
    path = tmp_path / "s" / "jwt-secret"
    results: list[bool] = []
    threads = [threading.Thread(target=lambda i=i: results.append(create_secret_file(path, b"v%d" % i)))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["jwt-secret"]  # no temporary files left behind
    assert not create_secret_file(path, b"other") and path.read_bytes().startswith(b"v")


def test_provided_secrets_win_and_files_need_not_be_generated(bare_env, monkeypatch, tmp_path):
    monkeypatch.setenv("VEIL_AUTH_JWT_SECRET", "x" * 40)
    jwt_file = tmp_path / "hmac"
    jwt_file.write_text("from-a-file\n")
    monkeypatch.setenv("VEIL_PRIVACY_HMAC_KEY_FILE", str(jwt_file))
    s = load_secrets(env="dev")
    assert s.auth.jwt_secret == "x" * 40 and s.privacy.hmac_key == "from-a-file"
    assert not (bare_env / "jwt-secret").exists() and not (bare_env / "hmac-key").exists()


def test_an_install_file_open_to_others_is_refused(tmp_path):
    store = SecretStore(tmp_path, generate=True)
    store.resolve(JWT_SECRET, value=None, file=None)
    os.chmod(tmp_path / "jwt-secret", 0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        store.resolve(JWT_SECRET, value=None, file=None)


def test_app_factory_refuses_to_start_in_prod_without_secrets(bare_env):
    with pytest.raises(ConfigError) as info:
        build_container(app=AppSettings(env="prod"))
    message = str(info.value)
    for spec in PRODUCT_SECRETS:
        assert spec.setting in message and spec.file_setting in message
    assert "veil secrets init" in message and "audit checkpoint key" in message
    assert not bare_env.exists()  # prod generated nothing


def run_veil(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRET_SETTINGS and not k.startswith("VEIL_")}
    return subprocess.run([VEIL, *args], check=False, cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_veil_serve_in_prod_refuses_to_start_until_secrets_exist(tmp_path):
    r = run_veil(["serve", "--port", "1"], tmp_path, VEIL_ENV="prod")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "VEIL_AUTH_JWT_SECRET" in r.stderr and "veil secrets init" in r.stderr
    assert not (tmp_path / "var").exists()
    # `veil secrets init` is the prod way to generate them once; values are never printed.
    r = run_veil(["secrets", "init"], tmp_path, VEIL_ENV="prod")
    assert r.returncode == 0, r.stderr
    secrets_dir = tmp_path / "var" / "secrets"
    files = sorted(p.name for p in secrets_dir.iterdir())
    assert files == sorted([*(s.name for s in PRODUCT_SECRETS), "audit-checkpoint.key"])
    assert all(mode(secrets_dir / f) == 0o600 for f in files) and mode(secrets_dir) == 0o700
    for f in files:
        if f != "audit-checkpoint.key":
            assert (secrets_dir / f).read_text() not in r.stdout + r.stderr
    before = {f: (secrets_dir / f).read_bytes() for f in files}
    assert run_veil(["secrets", "init"], tmp_path, VEIL_ENV="prod").returncode == 0
    assert {f: (secrets_dir / f).read_bytes() for f in files} == before  # never overwritten
    store = SecretStore(secrets_dir, generate=False, env="prod")
    from audit.settings import AuditSettings

    s = load_secrets(env="prod", store=store,
                     audit=AuditSettings(checkpoint_key_file=secrets_dir / "audit-checkpoint.key"))
    assert s.auth.jwt_secret == before["jwt-secret"].decode()


def test_users_disable_of_an_unknown_user_is_a_clear_error(container):
    r = CliRunner().invoke(app, ["users", "disable", "no-such-user-xyz"])
    assert r.exit_code == 1 and "no user named" in r.output
