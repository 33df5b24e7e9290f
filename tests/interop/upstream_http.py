"""urllib helper for talking to the upstream servers: (status, body) instead of raising on 4xx/5xx."""

import json
import urllib.error
import urllib.request


def http(method, url, *, data=None, json_body=None, headers=None, timeout=10.0):
    """One request; returns (status, body bytes). 4xx/5xx are returned, not raised."""
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
