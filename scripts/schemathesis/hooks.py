"""Schemathesis hooks for `npm run schemathesis`: what a real caller has and
a generator cannot guess. For cases generated to be valid only, these supply
the secrets and server-issued values the document says are required, and
keep to the rules relating values that no JSON Schema states (the document
says them in words; schemathesis.toml lists them):

- supplier and generic webhooks are signed over the exact bytes sent, with
  the secrets the run configured (Standard Webhooks, or Xero's HMAC);
  endpoint secrets are read from the API's own answers, as a customer would;
- the OAuth callback and completion get a state this server issued (one
  `POST /datasources/oauth/authorize` per case: states are single-use) and,
  unless they carry the provider's error, the code the fake provider
  redirects back with for that state after consent;
- re-authorising names one of the caller's own datasources of that
  integration (or none, for a new one);
- credentials, new or replaced, are ones the provider accepts (its fake's
  account; an update goes to the fixture whose key it is): a key that only
  fits the pattern is refused by the provider, as it should be;
- periods run forward (`from` before `to`, within the span a route takes)
  and readings cover real, past, distinct periods, written in the forms
  generated (periods.py);
- a manual sync waits for the run in progress to end, as the frontend does
  (a sync while one runs is a 409 naming that run);
- CSV files (a text/csv body, or the file part of a form) are drawn from the
  templates the API publishes (GET /api/v1/uploads/templates) for the data
  types the fixtures' integrations carry: no JSON Schema describes a CSV.

Negative cases are sent as generated, unsigned and with their own state.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import uuid
from datetime import date, timedelta

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode

from periods import period_forward, real_periods

BASE = os.environ["CARBON_ST_BASE"]
TOKEN = os.environ["CARBON_ST_TOKEN"]
SUPPLIER_SECRETS = {
    "/api/v1/webhooks/octopus-energy": os.environ["CARBON_ST_OCTOPUS_SECRET"],
    "/api/v1/webhooks/british-gas": os.environ["CARBON_ST_BRITISH_GAS_SECRET"],
}
XERO_KEY = os.environ["CARBON_ST_XERO_KEY"].encode()
# The fixtures' datasources ({"synced": id, "keyed": id, ...}), and the
# credentials each keyed provider's fake accepts, by integration.
FIXTURES = json.loads(os.environ["CARBON_ST_FIXTURES"])
CREDENTIALS = json.loads(os.environ["CARBON_ST_CREDENTIALS"])
# Generic endpoint sources and their secrets: the one the run made first,
# then as createWebhookEndpoint and rotateWebhookEndpoint answer them.
ENDPOINT_SECRETS = json.loads(os.environ["CARBON_ST_ENDPOINTS"])


def b64(data):
    return base64.b64encode(data).decode()


class StandardWebhooks(requests.auth.AuthBase):
    def __init__(self, secret):
        self.key = base64.b64decode(secret.removeprefix("whsec_"))

    def __call__(self, r):
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        msg_id, ts = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
        tag = hmac.new(self.key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        r.headers.update({"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{b64(tag)}"})
        return r


class XeroSignature(requests.auth.AuthBase):
    def __call__(self, r):
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        r.headers["x-xero-signature"] = b64(hmac.new(XERO_KEY, body, hashlib.sha256).digest())
        return r


# Operations whose body is readings, or carries them under "readings".
READINGS = (
    "/api/v1/datasources/{id}/readings",
    "/api/v1/webhooks/generic/{source}",
    *SUPPLIER_SECRETS,
)


def positive(case):
    """Generated as valid, or a documented example."""
    return case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE


def call(method, path, **kwargs):
    """The API, as the run's user."""
    return requests.request(method, f"{BASE}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20, **kwargs)


def api(method, path, **kwargs):
    """The API's answer, which must be a success."""
    res = call(method, path, **kwargs)
    res.raise_for_status()
    return res.json()


def issued():
    return api("POST", "/api/v1/datasources/oauth/authorize", json={"integration_id": "xero"})


def issued_state():
    return issued()["state"]


def consented():
    """A state and the code the fake provider redirects back with for it."""
    started = issued()
    res = requests.get(started["authorization_url"], allow_redirects=False, timeout=20)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(res.headers["location"]).query)
    if query.get("state") != [started["state"]] or "code" not in query:
        raise RuntimeError(f"the fake provider did not consent: {res.status_code} {res.headers.get('location')}")
    return started["state"], query["code"][0]


def own_datasource(integration):
    """One of the caller's datasources of that integration, or None (a new one)."""
    mine = api("GET", "/api/v1/datasources", params={"per_page": 100})["data"]
    return next((d["id"] for d in mine if d["integration_id"] == integration), None)


def wait_for_idle(datasource, seconds=5):
    """Until the datasource's newest run has ended, or a few seconds (a full
    sync from 2000 takes longer: then the 409 names the run). A datasource a
    stateful scenario deleted has no runs to wait for: its sync is a 404."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        res = call("GET", f"/api/v1/datasources/{datasource}/sync-runs", params={"per_page": 1})
        runs = res.json().get("data") if res.status_code == 200 else None
        if not runs or runs[0]["status"] not in ("queued", "running"):
            return
        time.sleep(0.2)


def csv_strategy():
    """CSV files as the published templates describe them."""
    templates = {t["type"]: t for t in api("GET", "/api/v1/uploads/templates")["data"]}
    carried = None
    for fixture in ("files", "typed"):
        integration = api("GET", f"/api/v1/datasources/{FIXTURES[fixture]}")["integration_id"]
        types = set(api("GET", f"/api/v1/integrations/{integration}")["data_types"])
        carried = types if carried is None else carried & types
    types = sorted(carried & templates.keys())
    label = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=12)
    # The templates' own limits, with room: a period of at most a year, ending before today.
    latest = date.today() - timedelta(days=2)

    @st.composite
    def rows(draw):
        count = draw(st.integers(1, 6))
        # Distinct starts: two rows of one period and thing are one row said twice.
        offsets = draw(st.lists(st.integers(0, 3000), min_size=count, max_size=count, unique=True))
        out = []
        for offset in offsets:
            template = templates[draw(st.sampled_from(types))]
            start = latest - timedelta(days=offset + 366)
            end = start + timedelta(days=draw(st.integers(0, 365)))
            unit = template["units"][draw(st.integers(0, len(template["units"]) - 1))]
            row = {
                "type": template["type"],
                "start": start.isoformat(),
                "end": end.isoformat(),
                "quantity": f"{draw(st.decimals(0, 1_000_000, places=3)):f}",
                "unit": draw(st.sampled_from([unit["name"], *unit.get("aliases", [])])),
            }
            if draw(st.booleans()):
                row["reference"] = draw(label)
            # The type's own column (fuel, mode...): always when required, else now and then.
            for column in template["columns"]:
                if column["name"] in row or not (column["required"] or column.get("values")):
                    continue
                if column["required"] or draw(st.booleans()):
                    row[column["name"]] = draw(st.sampled_from(column["values"]) if column.get("values") else label)
            out.append(row)
        return out

    def csv(rows):
        header = list(dict.fromkeys(name for row in rows for name in row))
        lines = [",".join(header)] + [",".join(row.get(name, "") for name in header) for row in rows]
        return ("\r\n".join(lines) + "\r\n").encode()

    return rows().map(csv)


schemathesis.openapi.media_type("text/csv", csv_strategy())


# Operation id -> path parameter -> the run's own ids (fixtures.mjs). The
# config binds them as dictionaries for the fuzzing phase; the coverage
# phase does not draw from dictionaries, so its valid cases get them here.
BINDINGS = json.loads(os.environ["CARBON_ST_BINDINGS"])


def in_coverage(case):
    phase = case.meta.phase if case.meta is not None else None
    return phase is not None and getattr(phase, "name", None) == "coverage"


@schemathesis.hook
def before_call(context, case, kwargs):
    if not positive(case):
        return
    bound = BINDINGS.get(case.operation.definition.raw.get("operationId"), {})
    if bound and in_coverage(case):
        for name, values in bound.items():
            if case.path_parameters.get(name) not in values:
                case.path_parameters[name] = values[0]
    path = case.operation.path
    if path in READINGS:
        readings = case.body if isinstance(case.body, list) else case.body.get("readings") if isinstance(case.body, dict) else None
        if isinstance(readings, list):
            real_periods(readings)
    if path in SUPPLIER_SECRETS:
        kwargs["auth"] = StandardWebhooks(SUPPLIER_SECRETS[path])
    elif path == "/api/v1/webhooks/xero":
        kwargs["auth"] = XeroSignature()
    elif path == "/api/v1/webhooks/generic/{source}":
        secret = ENDPOINT_SECRETS.get(case.path_parameters.get("source"))
        if secret:
            kwargs["auth"] = StandardWebhooks(secret)
    elif path == "/api/v1/oauth/{integration}/callback":
        # A provider redirects back with the state and either its code or an error.
        case.path_parameters["integration"] = "xero"
        if case.query.get("error") is None:
            case.query["state"], case.query["code"] = consented()
        else:
            case.query["state"] = issued_state()
    elif path == "/api/v1/datasources/oauth/complete" and isinstance(case.body, dict):
        if "code" in case.body:
            case.body["state"], case.body["code"] = consented()
        else:
            case.body["state"] = issued_state()
    elif path == "/api/v1/datasources" and isinstance(case.body, dict) and case.body.get("integration_id") in CREDENTIALS:
        case.body["credentials"] = dict(CREDENTIALS[case.body["integration_id"]])
    elif path == "/api/v1/datasources/oauth/authorize" and isinstance(case.body, dict) and case.body.get("datasource_id"):
        case.body["datasource_id"] = own_datasource(case.body.get("integration_id"))
    elif path == "/api/v1/datasources/{id}" and case.method == "PUT" and isinstance(case.body, dict):
        if "credentials" in case.body:
            case.path_parameters["id"] = FIXTURES["keyed"]
            case.body["credentials"] = dict(CREDENTIALS["octopus-energy"])
    elif path == "/api/v1/datasources/{id}/sync":
        period_forward(case.body, 36600, from_past=True)
        if case.path_parameters.get("id") == FIXTURES["synced"]:
            wait_for_idle(FIXTURES["synced"])
    elif path in ("/api/v1/activity", "/api/v1/emissions", "/api/v1/emissions/summary"):
        # At most 5 x 366 days of activity, 3,700 of emissions, per request.
        period_forward(case.query, 1830 if path == "/api/v1/activity" else 3700)


@schemathesis.hook
def after_call(context, case, response):
    if case.operation.path.startswith("/api/v1/datasources/{id}/webhook-endpoints") and response.status_code in (200, 201):
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict) and "secret" in body and "source" in body:
            ENDPOINT_SECRETS[body["source"]] = body["secret"]
