import pytest


@pytest.fixture
def scratch_settings(tmp_path, monkeypatch):
    "Point every output folder of load_settings() at a temporary folder (environment overrides)."
    for key in ("PROCESSED_DATA_DIR", "MODELS_DIR", "REPORTS_DIR", "RUNS_DIR"):
        monkeypatch.setenv(key, str(tmp_path / key.lower().removesuffix("_dir")))
    return tmp_path
