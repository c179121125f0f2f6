"""Schemathesis hooks for `npm run schemathesis`: the test data a real caller
has and a generator cannot guess. Nothing here changes what is generated;
it only supplies, for positive cases, the secrets and server-issued values
the document says are required:

- supplier and generic webhooks are signed over the exact bytes sent, with
  the secrets the run configured (Standard Webhooks, or Xero's HMAC);
  endpoint secrets are read from the API's own answers, as a customer would;
- the OAuth callback and completion get a state this server issued (one
  `POST /datasources/oauth/authorize` per case: states are single-use).

Negative cases are sent as generated, unsigned and with their own state.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import requests
import schemathesis
from schemathesis import GenerationMode

BASE = os.environ["CARBON_ST_BASE"]
TOKEN = os.environ["CARBON_ST_TOKEN"]
SUPPLIER_SECRETS = {
    "/api/v1/webhooks/octopus-energy": os.environ["CARBON_ST_OCTOPUS_SECRET"],
    "/api/v1/webhooks/british-gas": os.environ["CARBON_ST_BRITISH_GAS_SECRET"],
}
XERO_KEY = os.environ["CARBON_ST_XERO_KEY"].encode()
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


def positive(case):
    """Generated as valid, or a documented example."""
    return case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE


def issued_state():
    res = requests.post(
        f"{BASE}/api/v1/datasources/oauth/authorize",
        json={"integration_id": "xero"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=20,
    )
    res.raise_for_status()
    return res.json()["state"]


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
    if path in SUPPLIER_SECRETS:
        kwargs["auth"] = StandardWebhooks(SUPPLIER_SECRETS[path])
    elif path == "/api/v1/webhooks/xero":
        kwargs["auth"] = XeroSignature()
    elif path == "/api/v1/webhooks/generic/{source}":
        secret = ENDPOINT_SECRETS.get(case.path_parameters.get("source"))
        if secret:
            kwargs["auth"] = StandardWebhooks(secret)
    elif path == "/api/v1/oauth/{integration}/callback":
        case.path_parameters["integration"] = "xero"
        case.query["state"] = issued_state()
    elif path == "/api/v1/datasources/oauth/complete" and isinstance(case.body, dict):
        case.body["state"] = issued_state()


@schemathesis.hook
def after_call(context, case, response):
    if case.operation.path.startswith("/api/v1/datasources/{id}/webhook-endpoints") and response.status_code in (200, 201):
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict) and "secret" in body and "source" in body:
            ENDPOINT_SECRETS[body["source"]] = body["secret"]
