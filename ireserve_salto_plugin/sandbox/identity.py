"""The sandbox's identity server: OIDC discovery and the token endpoint (password and
refresh-token grants, Basic client authentication), as docs/salto-ks-api.md describes."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from ireserve_salto_plugin.sandbox.http import Reply, Request, Route, basic_auth
from ireserve_salto_plugin.sandbox.view import SandboxView

SCOPES = {"user_api.full_access", "openid", "profile", "offline_access"}


class IdentityServer:
    def __init__(self, sandbox: SandboxView) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[Route]:
        return [
            ("GET", re.compile(r"/\.well-known/openid-configuration"), self.discovery),
            ("POST", re.compile(r"/connect/token"), self.token),
        ]

    def discovery(self, req: Request) -> Any:
        return {
            "issuer": self.sandbox.identity_url,
            "token_endpoint": f"{self.sandbox.identity_url}/connect/token",
            "grant_types_supported": [
                "authorization_code",
                "client_credentials",
                "refresh_token",
                "password",
            ],
            "scopes_supported": sorted(SCOPES),
        }

    def token(self, req: Request) -> Any:
        client = basic_auth(req.headers.get("Authorization", ""))
        if client != (self.sandbox.client_id, self.sandbox.client_secret):
            raise Reply(400, {"error": "invalid_client"})
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        world = self.sandbox.world
        if grant == "password":
            scopes = set(form.get("scope", "").split())
            if (
                not scopes
                or not scopes <= SCOPES
                or ("offline_access" in scopes and not self.sandbox.allow_offline_access)
            ):
                raise Reply(400, {"error": "invalid_scope"})
            user = world.users.get(form.get("username", ""))
            if user is None or not secrets.compare_digest(user.password, form.get("password", "")):
                raise Reply(
                    400,
                    {"error": "invalid_grant", "error_description": "invalid_username_or_password"},
                )
        elif grant == "refresh_token":
            username = world.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if username is None:
                raise Reply(400, {"error": "invalid_grant"})
            user = world.users[username]
            scopes = {"user_api.full_access", "offline_access"}
        else:
            raise Reply(400, {"error": "unsupported_grant_type"})
        self.sandbox.grants[grant] += 1
        token = secrets.token_urlsafe(32)
        world.tokens[token] = (
            user.username,
            self.sandbox.now() + timedelta(seconds=self.sandbox.token_ttl),
        )
        world.tokens_issued.append(token)
        reply = {
            "access_token": token,
            "expires_in": self.sandbox.token_ttl,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }
        if "offline_access" in scopes:
            refresh = secrets.token_urlsafe(32)
            world.refresh_tokens[refresh] = user.username
            world.tokens_issued.append(refresh)
            reply["refresh_token"] = refresh
        return reply
