"""Access and ID tokens are RS256 JWTs, as CTCT's are, verifiable with the sandbox's JWKS; the
sandbox itself still looks every token up, so revocation and expiry ignore what a token claims.

The tokens are checked with joserfc (what Authlib builds on), an implementation of JOSE other than
the sandbox's own, so a signing mistake cannot hide behind a matching verification mistake."""

import json

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from ctct.sandbox import create_app
from ctct.sandbox.inprocess import SandboxTransport
from tests.sandbox.conftest import CLIENT_ID, code_from, exchange_code, log_in, tokens_for

TOKEN = "/oauth2/default/v1/token"
KEYS = "/oauth2/default/v1/keys"
SCOPE = "account_read contact_data offline_access"


def decoded(token: str, jwks: dict) -> jwt.Token:
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])


def jwks_of(app) -> dict:
    return app.state.sandbox.tokens.jwks()


def test_access_tokens_are_jwts_with_oktas_claims(http, app, clock):
    tokens = tokens_for(http, scope=SCOPE)
    issued_at = int(clock.now)
    access = decoded(tokens["access_token"], jwks_of(app))
    assert access.header == {"alg": "RS256", "kid": jwks_of(app)["keys"][0]["kid"]}
    claims = access.claims
    assert set(claims) == {"iss", "aud", "sub", "cid", "scp", "iat", "exp", "jti"}
    assert claims["iss"] == "http://sandbox/oauth2/default" and claims["aud"] == "http://sandbox/v3"
    assert claims["sub"] == "demo" and claims["cid"] == CLIENT_ID
    assert claims["scp"] == ["account_read", "contact_data", "offline_access"]
    assert claims["iat"] == issued_at and claims["exp"] == issued_at + 86_400
    assert claims["jti"] != decoded(tokens_for(http)["access_token"], jwks_of(app)).claims["jti"]


def test_the_code_grant_returns_an_id_token(http, app, clock):
    login = log_in(http, scope=SCOPE)
    logged_in_at = int(clock.now)
    clock.advance(30)
    tokens = exchange_code(http, code_from(login), login.verifier).json()  # type: ignore[attr-defined]
    identity = decoded(tokens["id_token"], jwks_of(app)).claims
    assert identity == {
        "iss": "http://sandbox/oauth2/default",
        "aud": CLIENT_ID,
        "sub": "demo",
        "iat": identity["iat"],
        "exp": identity["iat"] + 3600,
        "auth_time": logged_in_at,
        "name": "Demo Owner",
        "email": "owner@demo-company.example",
    }
    assert identity["iat"] > logged_in_at


def test_an_account_without_an_email_has_no_email_claim(http, app):
    identity = decoded(tokens_for(http, "other", "secret")["id_token"], jwks_of(app)).claims
    assert identity["sub"] == "other" and "email" not in identity


def test_a_refresh_returns_new_jwts_that_keep_the_login_time(http, app, clock):
    tokens = tokens_for(http, scope=SCOPE)
    first_login = decoded(tokens["id_token"], jwks_of(app)).claims["auth_time"]
    clock.advance(3_000)
    refreshed = http.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID}
    ).json()
    access = decoded(refreshed["access_token"], jwks_of(app)).claims
    identity = decoded(refreshed["id_token"], jwks_of(app)).claims
    assert access["iat"] == int(clock.now) and access["scp"] == SCOPE.split()
    assert identity["auth_time"] == first_login and identity["iat"] == int(clock.now)


def test_tokens_are_still_looked_up_whatever_they_claim(http, app, clock):
    sandbox = app.state.sandbox
    tokens = tokens_for(http)
    # Signed with the sandbox's own key and unexpired, but never issued: refused.
    claims = decoded(tokens["access_token"], jwks_of(app)).claims | {"jti": "AT.forged"}
    forged = sandbox.tokens.signer().sign(claims)
    assert http.get("/v3/account/summary", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    # A revoked token keeps a valid signature and exp, and stops working all the same.
    http.post("/oauth2/default/v1/revoke", data={"token": tokens["refresh_token"]})
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert decoded(tokens["access_token"], jwks_of(app)).claims["exp"] > clock.now
    assert http.get("/v3/account/summary", headers=headers).status_code == 401


def test_the_jwks_publishes_the_public_key_that_verifies_the_tokens(http):
    tokens = tokens_for(http)
    response = http.get(KEYS)
    assert response.status_code == 200, "GET /oauth2/default/v1/keys must be routed to ctct.sandbox.oauth.keys"
    jwks = response.json()
    assert len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert {key["kty"], key["alg"], key["use"]} == {"RSA", "RS256", "sig"} and key["kid"]
    assert set(key) == {"kty", "alg", "use", "kid", "n", "e"}  # the public half only
    assert decoded(tokens["access_token"], jwks).claims["sub"] == "demo"
    assert decoded(tokens["id_token"], jwks).claims["sub"] == "demo"


def test_the_signing_key_survives_a_restart_with_a_state_file(sandbox_config, tmp_path):
    sandbox_config.state_file = tmp_path / "sandbox.json"
    first = create_app(sandbox_config)
    transport = SandboxTransport(first)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        tokens = tokens_for(client)
    transport.close()
    first.state.sandbox.save()
    assert "PRIVATE KEY" in json.loads(sandbox_config.state_file.read_text())["tokens"]["signing_key"]

    restarted = create_app(sandbox_config)
    assert jwks_of(restarted) == jwks_of(first)
    assert decoded(tokens["access_token"], jwks_of(restarted)).claims["sub"] == "demo"
    transport = SandboxTransport(restarted)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.get("/v3/account/summary", headers=headers).status_code == 200
    transport.close()


def test_a_state_saved_before_tokens_were_signed_still_loads(sandbox_config, tmp_path):
    sandbox_config.state_file = tmp_path / "sandbox.json"
    first = create_app(sandbox_config)
    opaque = "an-opaque-token-of-an-older-sandbox"
    first.state.sandbox.tokens.access[opaque] = {
        "username": "demo",
        "client_id": CLIENT_ID,
        "scope": "account_read contact_data",
        "family": "f1",
        "expires_at": sandbox_config.clock() + 600,
    }
    first.state.sandbox.save()
    saved = json.loads(sandbox_config.state_file.read_text())
    assert "signing_key" not in saved["tokens"]

    restarted = create_app(sandbox_config)
    transport = SandboxTransport(restarted)
    with httpx.Client(transport=transport, base_url="http://sandbox") as client:
        old = client.get("/v3/account/summary", headers={"Authorization": f"Bearer {opaque}"})
        assert old.status_code == 200
        assert decoded(tokens_for(client)["access_token"], jwks_of(restarted)).claims["sub"] == "demo"
    transport.close()
