"""The emulated authorization server under /oauth2/default/v1: login page, token, revoke, keys."""

from __future__ import annotations

import base64
import binascii
import html
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ctct.sandbox.config import SandboxAccount
from ctct.sandbox.state import Sandbox
from ctct.sandbox.tokens import Grant, Issuer, OAuthError

AUTHORIZE_FIELDS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The scopes CTCT's authorization server knows (its OAuth scopes, and Okta's OpenID Connect ones).
KNOWN_SCOPES = frozenset(
    {"account_read", "account_update", "contact_data", "campaign_data", "offline_access", "openid", "profile"}
)

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in · Constant Contact (sandbox)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f3f5f8;
        color: #1d2433; }}
 .card {{ max-width: 380px; margin: 72px auto; background: #fff; border-radius: 10px; padding: 36px 40px;
         box-shadow: 0 4px 24px rgba(16, 24, 40, .10); }}
 .brand {{ font-weight: 700; font-size: 20px; color: #1856c6; letter-spacing: .2px; }}
 .tag {{ display: inline-block; margin-left: 6px; font-size: 11px; font-weight: 600; color: #8a5a00;
        background: #fff3d6; border-radius: 4px; padding: 2px 6px; vertical-align: middle; }}
 h1 {{ font-size: 22px; margin: 22px 0 6px; }}
 p.sub {{ margin: 0 0 22px; color: #5b6475; font-size: 14px; }}
 label {{ display: block; font-size: 13px; font-weight: 600; margin: 14px 0 6px; }}
 input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 11px 12px;
        border: 1px solid #c9d0db; border-radius: 6px; font-size: 15px; }}
 input:focus {{ outline: 2px solid #1856c6; border-color: #1856c6; }}
 .error {{ background: #fdecec; color: #a12020; border-radius: 6px; padding: 10px 12px; font-size: 14px;
          margin-top: 16px; }}
 .actions {{ display: flex; flex-direction: row-reverse; gap: 10px; margin-top: 24px; }}
 button {{ flex: 1; padding: 11px; font-size: 15px; font-weight: 600; border-radius: 6px; cursor: pointer; }}
 button.primary {{ background: #1856c6; color: #fff; border: 0; }}
 button.secondary {{ background: #fff; color: #1d2433; border: 1px solid #c9d0db; }}
 .scopes {{ font-size: 13px; color: #5b6475; margin-top: 18px; }}
</style></head>
<body><main class="card">
 <div class="brand">Constant Contact<span class="tag">SANDBOX</span></div>
 <h1>Log in</h1>
 <p class="sub">to give <strong>{client}</strong> access to your account</p>
 {error}
 <form method="post" action="/oauth2/default/v1/authorize">
  {hidden}
  <label for="username">Username</label>
  <input id="username" name="username" type="text" autocomplete="username" value="{username}" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <div class="actions">
   <!-- "Log in" comes first so that Enter in a field logs in; the row is drawn reversed. -->
   <button class="primary" type="submit" name="decision" value="allow">Log in</button>
   <button class="secondary" type="submit" name="decision" value="deny" formnovalidate>Deny</button>
  </div>
 </form>
 <p class="scopes">Requested access: {scopes}</p>
</main></body></html>"""

ERROR_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Authorization error</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 520px; margin: 72px auto;">
<h1>Authorization error</h1><p><strong>{error}</strong>: {description}</p></body></html>"""


def _oauth_json(error: OAuthError) -> JSONResponse:
    # RFC 6749 §5.2: a 401 for a failed client authentication names the scheme to authenticate with.
    headers = {"WWW-Authenticate": 'Basic realm="oauth2"'} if error.status == 401 else None
    return JSONResponse(
        {"error": error.error, "error_description": error.description}, status_code=error.status, headers=headers
    )


def _error_page(error: str, description: str) -> HTMLResponse:
    return HTMLResponse(ERROR_PAGE.format(error=html.escape(error), description=html.escape(description)), 400)


def _redirect_allowed(sandbox: Sandbox, redirect_uri: str) -> bool:
    if redirect_uri in sandbox.config.redirect_uris:
        return True
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def _redirect(redirect_uri: str, **params: str) -> RedirectResponse:
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(redirect_uri + joiner + urlencode({k: v for k, v in params.items() if v}), 302)


def _checked_authorize_params(sandbox: Sandbox, params: dict[str, str]) -> Response | None:
    """An error page or redirect for a bad authorization request; None when it may proceed."""
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    if not client_id:
        return _error_page("invalid_request", "client_id is required")
    if not sandbox.config.knows_client(client_id):
        return _error_page("invalid_client", f"unknown client_id {client_id!r}")
    if not redirect_uri or not _redirect_allowed(sandbox, redirect_uri):
        # Never redirect to an unchecked address (RFC 6749 §4.1.2.1): show the error here.
        return _error_page("invalid_request", f"redirect_uri {redirect_uri!r} is not registered for this client")
    state = params.get("state", "")
    if params.get("response_type") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type", state=state)
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
        return _redirect(
            redirect_uri, error="invalid_request", error_description="code_challenge_method must be S256", state=state
        )
    requested = params.get("scope", "").split()
    if not requested:
        return _redirect(redirect_uri, error="invalid_scope", error_description="scope is required", state=state)
    unknown = [scope for scope in requested if scope not in KNOWN_SCOPES]
    if unknown:
        return _redirect(
            redirect_uri,
            error="invalid_scope",
            error_description=f"unknown scope(s): {' '.join(unknown)}",
            state=state,
        )
    return None


def _requested_scope(params: dict[str, str]) -> str:
    """The scopes asked for, each once and in the order asked: exactly what the grant will carry."""
    return " ".join(dict.fromkeys(params["scope"].split()))


def _login_page(params: dict[str, str], error: str = "", username: str = "") -> HTMLResponse:
    hidden = "\n  ".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in AUTHORIZE_FIELDS
        if params.get(name)
    )
    page = LOGIN_PAGE.format(
        client=html.escape(params.get("client_id", "")),
        error=f'<div class="error" role="alert">{html.escape(error)}</div>' if error else "",
        hidden=hidden,
        username=html.escape(username),
        scopes=html.escape(params.get("scope", "")),
    )
    return HTMLResponse(page)


async def authorize_page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    params = dict(request.query_params)
    return _checked_authorize_params(sandbox, params) or _login_page(params)


async def authorize_submit(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    form = await request.form()
    params = {name: str(form.get(name, "")) for name in AUTHORIZE_FIELDS}
    refusal = _checked_authorize_params(sandbox, params)
    if refusal is not None:
        return refusal
    if form.get("decision") == "deny":
        return _redirect(
            params["redirect_uri"],
            error="access_denied",
            error_description="The user denied access.",
            state=params["state"],
        )
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    account = sandbox.accounts_by_username.get(username)
    if account is None or account.password != password:
        return _login_page(params, "The username or password is not correct. Try again.", username)
    with sandbox.lock:
        code = sandbox.tokens.issue_code(
            Grant(username, params["client_id"], _requested_scope(params), auth_time=sandbox.now()),
            params["redirect_uri"],
            params.get("code_challenge") or None,
            params.get("code_challenge_method") or None,
            sandbox.now(),
            sandbox.config.code_seconds,
        )
        sandbox.dirty = True
    return _redirect(params["redirect_uri"], code=code, state=params["state"])


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic authorization header; None when there is none."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "The Basic authorization header is malformed.", 401)
    return client_id, secret


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    """The client id a token or revoke request names, and the secret it offers (None: no secret)."""
    basic = _basic_credentials(request)
    if basic is None:
        return form.get("client_id", ""), form.get("client_secret")
    if "client_secret" in form:
        # As Okta: one client authentication method per request.
        raise OAuthError(
            "invalid_request", "Send the client credentials either as HTTP Basic or in the body, not both."
        )
    client_id, secret = basic
    if form.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_client", "client_id does not match the Basic authorization header.", 401)
    return client_id, secret


def _authenticate(sandbox: Sandbox, client_id: str, secret: str | None) -> None:
    """Refuses an unknown client, and a confidential one without its secret; public clients pass."""
    if not sandbox.config.knows_client(client_id):
        raise OAuthError("invalid_client", f"Unknown client {client_id!r}.", 401)
    expected = sandbox.config.client_secrets.get(client_id)
    if expected is None:
        return
    if secret is None:
        raise OAuthError(
            "invalid_client",
            "Client authentication failed: this client is confidential and must send its secret "
            "(HTTP Basic client_id:client_secret, or client_secret in the body).",
            401,
        )
    if not secrets.compare_digest(secret.encode(), expected.encode()):
        raise OAuthError("invalid_client", "The client secret supplied for a confidential client is invalid.", 401)


def _profile(account: SandboxAccount) -> dict[str, str]:
    """The ID token's name and email claims, for what the account has."""
    profile = {"name": f"{account.first_name} {account.last_name}".strip(), "email": account.email}
    return {claim: value for claim, value in profile.items() if value}


def _issuer(sandbox: Sandbox, request: Request) -> Issuer:
    return Issuer(
        origin=str(request.base_url).rstrip("/"),
        profiles={account.username: _profile(account) for account in sandbox.config.accounts},
    )


async def token(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        client_id, secret = _client_credentials(request, form)
        if not client_id:
            raise OAuthError("invalid_client", "client_id is required.", 401)
        _authenticate(sandbox, client_id, secret)
        lifetime = sandbox.config.access_token_seconds
        issuer = _issuer(sandbox, request)
        with sandbox.lock:
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                grant, family = sandbox.tokens.redeem_code(
                    form.get("code", ""),
                    client_id,
                    form.get("redirect_uri", ""),
                    form.get("code_verifier"),
                    sandbox.now(),
                )
                body = sandbox.tokens.issue_tokens(grant, family, sandbox.now(), lifetime, issuer)
            elif grant_type == "refresh_token":
                body = sandbox.tokens.rotate(form.get("refresh_token", ""), client_id, sandbox.now(), lifetime, issuer)
            else:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
            sandbox.dirty = True
    except OAuthError as error:
        return _oauth_json(error)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def revoke(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        if not form.get("token"):
            raise OAuthError("invalid_request", "token is required.")
        client_id, secret = _client_credentials(request, form)
        # A public client may revoke without naming itself, as before; a named client must be known,
        # and a confidential one must authenticate.
        if client_id:
            _authenticate(sandbox, client_id, secret)
        with sandbox.lock:
            owner = sandbox.tokens.owner_of(form["token"])
            if owner is not None and owner in sandbox.config.client_secrets and owner != client_id:
                # RFC 7009 §2.1: only the client a token was issued to may revoke it, and a confidential
                # client's token must not be revocable by whoever holds it.
                raise OAuthError("invalid_client", "The token belongs to a client that must authenticate.", 401)
            sandbox.tokens.revoke(form["token"])
            sandbox.dirty = True
    except OAuthError as error:
        return _oauth_json(error)
    return Response(status_code=200)


async def keys(request: Request) -> Response:
    """The JWKS: the public key that verifies the sandbox's access and ID tokens."""
    sandbox: Sandbox = request.app.state.sandbox
    with sandbox.lock:
        first_use = sandbox.tokens.signing_key is None
        body = sandbox.tokens.jwks()
        if first_use:
            sandbox.dirty = True  # a key just made must be saved, or a restart would publish another
    return JSONResponse(body)
