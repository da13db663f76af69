"""Typed reads of the parts of a (validated) policy document the proxy itself needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_COOLDOWN_FAILURES = 3
DEFAULT_COOLDOWN_SECONDS = 60


@dataclass(frozen=True)
class ModelSpec:
    """One model of the policy, as the proxy uses it to call and price."""

    name: str
    provider: str
    model_class: str
    upstream_model: str
    rpm_cap: int
    tpm_cap: int
    daily_usd_cap: float | None
    input_per_1k: float
    output_per_1k: float
    context_tokens: int
    preamble: str | None
    usage_windows: tuple[dict[str, Any], ...]
    max_concurrent: int | None = None

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for a call, from the policy's per-1k prices."""
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000


@dataclass(frozen=True)
class PolicyView:
    """The policy document with the fields the proxy reads typed and looked up once."""

    document: dict[str, Any]
    revision: int
    timezone: str
    cooldown_failures: int
    cooldown_seconds: int
    models: dict[str, ModelSpec]
    etag: str = ""

    @classmethod
    def of(cls, document: dict[str, Any], revision: int, etag: str = "") -> PolicyView:
        """Read a schema-valid document."""
        cooldown = document.get("cooldown", {})
        models = {}
        for raw in document["models"]:
            name = raw["name"]
            price = raw.get("price", {})
            models[name] = ModelSpec(
                name=name,
                provider=raw["provider"],
                model_class=raw["class"],
                upstream_model=raw.get("upstream_model") or name.split("/", 1)[-1],
                rpm_cap=raw["rpm_cap"],
                tpm_cap=raw["tpm_cap"],
                daily_usd_cap=raw.get("daily_usd_cap"),
                input_per_1k=float(price.get("input_per_1k", 0.0)),
                output_per_1k=float(price.get("output_per_1k", 0.0)),
                context_tokens=raw["context_tokens"],
                preamble=raw.get("preamble"),
                usage_windows=tuple(raw.get("usage_windows", [])),
                max_concurrent=raw.get("max_concurrent"),
            )
        return cls(
            document=document,
            revision=revision,
            timezone=document["timezone"],
            cooldown_failures=cooldown.get("failures", DEFAULT_COOLDOWN_FAILURES),
            cooldown_seconds=cooldown.get("seconds", DEFAULT_COOLDOWN_SECONDS),
            models=models,
            etag=etag,
        )

    @property
    def bundle_revision(self) -> str:
        """The revision as the bundle manifest (and so every decision) names it."""
        return self.etag.strip('"')

    @property
    def label(self) -> str:
        """The author's version label."""
        return str(self.document.get("version", ""))
