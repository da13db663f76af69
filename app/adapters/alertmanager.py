"""Alertmanager's API v2: silences (create, expire) and the alerts it holds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from app.core.incidents import GiveUp, RetryLater

CREATED_BY = "symphony"


def _failure(response: requests.Response, what: str) -> Exception:
    if response.status_code >= 500 or response.status_code == 429:
        return RetryLater(f"Alertmanager answered {response.status_code} to {what}")
    return GiveUp(f"Alertmanager answered {response.status_code} to {what}: {response.text[:200]}")


class AlertmanagerApi:
    """Silences and alerts of one Alertmanager (SYMPHONY_ALERTMANAGER_URL)."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._http = requests.Session()

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self._http.request(
                method, f"{self._url}/api/v2{path}", timeout=self._timeout_s, **kwargs
            )
        except requests.RequestException as exc:
            raise RetryLater(f"Alertmanager unreachable ({what}): {type(exc).__name__}") from None

    def silence(self, matchers: Mapping[str, str], seconds: float, comment: str) -> str:
        """Silence alerts with exactly these labels for `seconds`; the silence id."""
        now = datetime.now(UTC)
        body = {
            "matchers": [
                {"name": name, "value": value, "isRegex": False, "isEqual": True}
                for name, value in sorted(matchers.items())
            ],
            "startsAt": now.isoformat().replace("+00:00", "Z"),
            "endsAt": (now + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
            "createdBy": CREATED_BY,
            "comment": comment[:1000],
        }
        response = self._request("POST", "/silences", "a new silence", json=body)
        if response.status_code != 200:
            raise _failure(response, "a new silence")
        return str(response.json()["silenceID"])

    def expire(self, silence_id: str) -> None:
        """Expire a silence; one already expired or unknown is left as it is."""
        response = self._request("DELETE", f"/silence/{silence_id}", "expiring a silence")
        if response.status_code in (200, 404):
            return
        if response.status_code == 500 and "already expired" in response.text:
            return
        raise _failure(response, "expiring a silence")

    def silences(self) -> list[dict[str, Any]]:
        """Every silence Alertmanager knows (active, pending, expired)."""
        response = self._request("GET", "/silences", "listing silences")
        if response.status_code != 200:
            raise _failure(response, "listing silences")
        found: list[dict[str, Any]] = response.json()
        return found

    def active_fingerprints(self) -> set[str]:
        """Fingerprints of every alert Alertmanager holds, silenced and inhibited included."""
        params = {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"}
        response = self._request("GET", "/alerts", "listing alerts", params=params)
        if response.status_code != 200:
            raise _failure(response, "listing alerts")
        return {str(alert["fingerprint"]) for alert in response.json()}
