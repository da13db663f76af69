"""A real LiteLLM proxy (from .tools/litellm-venv) on a free port, offline, for tests and
benchmarks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import ROOT, Service, free_port, spawn

LITELLM = ROOT / ".tools" / "litellm-venv" / "bin" / "litellm"

# LiteLLM fetches JSON catalogues from GitHub at start unless told to use its bundled copies.
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "HF_HUB_OFFLINE": "1",
}


def require_litellm() -> None:
    """Fail loudly (never skip) when LiteLLM's venv is missing."""
    if not LITELLM.exists():
        raise RuntimeError(
            f"LiteLLM is not installed at {LITELLM.relative_to(ROOT)}: run `just setup` "
            "(or `just litellm`, i.e. bash scripts/setup-litellm.sh)"
        )


def start_litellm(
    config: Mapping[str, Any], master_key: str, work_dir: Path, log_dir: Path
) -> Service:
    """LiteLLM's proxy over `config` (written to work_dir/config.yaml), ready to answer."""
    require_litellm()
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "config.yaml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    port = free_port()
    service = spawn(
        "litellm",
        [str(LITELLM), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
        port,
        log_dir,
        env={**OFFLINE_ENV, "LITELLM_MASTER_KEY": master_key},
        cwd=work_dir,
    )
    # Importing LiteLLM's proxy takes 10-30 s on two cores.
    return service.ready("/health/liveliness", timeout_s=180)
