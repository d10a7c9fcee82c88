from pathlib import Path

import pytest

from pipeline.config import Config, load_config
from pipeline.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_config_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == Config(base_dir=config.base_dir).with_db(config.store.url)
    assert config.store.url == f"sqlite:///{tmp_path.resolve()}/data/nkpipe.db"  # the default path, made absolute
    assert config.schedule.cron == "0 2 * * *"


def test_config_file_overlays_defaults(tmp_path):
    config = load_config(write(tmp_path, '[fetch]\ntimeout_s = 5\n[schedule]\ncron = "30 3 * * *"\n'))
    assert config.fetch.timeout_s == 5.0
    assert config.fetch.attempts == 3  # untouched default
    assert config.schedule.cron == "30 3 * * *"
    assert config.base_dir == tmp_path.resolve()


def test_config_unknown_key_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="timeout_seconds"):
        load_config(write(tmp_path, "[fetch]\ntimeout_seconds = 5\n"))


def test_config_unknown_section_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"\[fecth\]"):
        load_config(write(tmp_path, "[fecth]\ntimeout_s = 5\n"))


def test_config_wrong_type_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="attempts"):
        load_config(write(tmp_path, '[fetch]\nattempts = "three"\n'))


def test_config_db_env_overrides_file_and_option_overrides_env(tmp_path, monkeypatch):
    path = write(tmp_path, '[store]\nurl = "sqlite:///file.db"\n')
    assert load_config(path).store.url == f"sqlite:///{tmp_path.resolve()}/file.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NKPIPE_DB", "sqlite:////abs/env.db")
    assert load_config(path).store.url == "sqlite:////abs/env.db"
    assert load_config(path, db_url="sqlite:///opt.db").store.url == f"sqlite:///{tmp_path.resolve()}/opt.db"


def test_config_resolves_the_store_url_once_against_the_right_folder(tmp_path, monkeypatch):
    """A relative SQLite path in the file is relative to the file's folder, one given by --db or
    $NKPIPE_DB to the working directory; PostgreSQL URLs are left alone."""
    folder = tmp_path / "conf"
    folder.mkdir()
    path = write(folder, '[store]\nurl = "sqlite:///data/x.db"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(path).store.url == f"sqlite:///{folder.resolve()}/data/x.db"
    assert load_config(path, db_url="sqlite:///y.db").store.url == f"sqlite:///{tmp_path.resolve()}/y.db"
    monkeypatch.setenv("NKPIPE_DB", "postgresql+psycopg://u@h/db")
    assert load_config(path).store.url == "postgresql+psycopg://u@h/db"


def test_config_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_config_bundled_file_is_valid():
    repo = Path(__file__).resolve().parents[1]
    config = load_config(repo / "config.toml")
    assert config.resolve(config.paths.default_sources).is_file()


def test_config_web_section_overlays_defaults_and_refuses_unknown_keys(tmp_path):
    config = load_config(write(tmp_path, "[web]\nport = 8100\nsession_hours = 2\nsecure_cookies = true\n"))
    assert (config.web.port, config.web.session_hours, config.web.secure_cookies) == (8100, 2.0, True)
    assert config.web.host == "127.0.0.1" and config.web.allow_private_sources is False
    assert load_config(write(tmp_path, "[web]\nallow_private_sources = true\n")).web.allow_private_sources
    with pytest.raises(ConfigError, match="secret"):
        load_config(write(tmp_path, "[web]\nsecret = 'x'\n"))


def test_config_dask_runner_and_cluster(tmp_path):
    config = load_config(write(tmp_path, '[flow]\ntask_runner = "dask"\n[dask]\naddress = "tcp://127.0.0.1:8786"\n'
                                         'n_workers = 3\n'))
    assert config.flow.task_runner == "dask"
    assert (config.dask.address, config.dask.n_workers, config.dask.threads_per_worker) == ("tcp://127.0.0.1:8786", 3, 1)
    assert Config().flow.task_runner == "default" and Config().dask.address == ""


@pytest.mark.parametrize("text, message", [
    ('[flow]\ntask_runner = "ray"\n', "task_runner must be one of 'default', 'processes', 'dask'"),
    ("[dask]\nn_workers = 0\n", "n_workers must be at least 1"),
    ("[dask]\nworkers = 2\n", "unknown key 'workers'"),
])
def test_config_dask_bad_values_are_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))
