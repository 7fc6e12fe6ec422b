"""The README documents every `[tool.perflint]` key (a table generated from perflint/config.py) and its
pre-commit snippet names a commit that exists and ships both hooks with --force-exclude."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from perflint import config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_table_of_keys_is_current() -> None:
    assert config.readme_with_keys_table(README) == README, (
        "README's table of [tool.perflint] keys is stale: run `python -m perflint.config` and commit README.md"
    )


def test_every_key_is_validated_and_documented() -> None:
    table = config.keys_table()
    for key in config.KEYS:
        assert f"| `{key.name}` |" in table
    # Every key the loader accepts is a documented key, and the other way round.
    assert config.KNOWN_KEYS == {key.name for key in config.KEYS}
    with pytest.raises(config.ConfigError) as raised:
        config.settings_from_table({"no-such-key": 1}, ROOT, ROOT / "pyproject.toml")
    assert "expected one of: " + ", ".join(key.name for key in config.KEYS) in str(raised.value)


def test_config_example_in_the_readme_loads(tmp_path: Path) -> None:
    example = re.search(r"### Configuration\n\n```toml\n(.*?)```", README, re.S).group(1)
    assert "extend-exclude" in example and "\nexclude" not in example
    (tmp_path / "pyproject.toml").write_text(example)
    settings = config.load_settings(tmp_path / "pyproject.toml")
    assert settings.exclude == config.DEFAULT_EXCLUDES and settings.extend_exclude == ("notebooks/scratch",)


def test_pre_commit_snippet_names_a_commit_with_both_hooks() -> None:
    snippet = yaml.safe_load(re.search(r"### pre-commit\n\n```yaml\n(.*?)```", README, re.S).group(1))
    (repo,) = snippet["repos"]
    rev = repo["rev"]
    assert re.fullmatch(r"[0-9a-f]{40}", rev), "rev must be a full commit hash until a release is tagged"
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("no git history here to look the commit up in")
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True)
    shown = subprocess.run(["git", "show", f"{rev}:.pre-commit-hooks.yaml"], cwd=ROOT, capture_output=True, text=True)
    if shown.returncode != 0 and shallow.stdout.strip() == "true":
        pytest.skip(f"commit {rev[:12]} may be beyond this shallow clone's history")
    assert shown.returncode == 0, f"README's pre-commit rev {rev} is not a commit of this repository: {shown.stderr}"
    hooks = {hook["id"]: hook for hook in yaml.safe_load(shown.stdout)}
    assert hooks["perflint-check"]["entry"].endswith("--force-exclude")
    assert hooks["perflint-fix"]["entry"].endswith("--force-exclude")
