"""Flask's JSON answers encoded by orjson (app/adapters/json_codec.py).

The same documents as Flask's default provider, which stays in charge of everything else:
keys sorted, compact, a newline at the end, dates, decimals, UUIDs and dataclasses converted
by Flask's own `default`. The one difference on the wire: text outside ASCII is sent as UTF-8
(`"é"`) rather than escaped (`"\\u00e9"`), which every JSON reader takes as the same string.
Pretty-printed answers (debug mode) go through Flask's provider unchanged.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as BaseResponse

from app.adapters import json_codec


class FastJSONProvider(DefaultJSONProvider):
    """DefaultJSONProvider whose compact `jsonify` answers are encoded by orjson."""

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        """A JSON response of the arguments, as `flask.jsonify` documents it."""
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        value = self._prepare_response_obj(args, kwargs)
        body = json_codec.encode(value, sort_keys=self.sort_keys, default=self.default)
        # The app's response class is Flask's own (Symphony sets none).
        return Response(body + b"\n", mimetype=self.mimetype)
