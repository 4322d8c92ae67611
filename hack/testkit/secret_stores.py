"""Secret stores on 127.0.0.1 for the values backends' tests.

`running_moto()`: moto's server (in this process, on a free port) for Secrets Manager, SSM
Parameter Store and IAM, with IAM enforced: every request must be signed by an access key of
an IAM user, and is allowed or denied by that user's policies. moto turns enforcement on
once `settings.INITIAL_NO_AUTH_ACTION_COUNT` requests have gone through unchecked (infinite
by default, read from the environment at import). The server's own `/moto-api/reset-auth`
sets that count: after the admin user is made, it is set to 0, and put back on exit, since
the setting is the process's. moto evaluates a policy's Action, not its Resource, for these
services (it authorizes every call against resource `*`), so a denial is per action: a user
denied secretsmanager:GetSecretValue is refused every GetSecretValue. Such a denial comes
back as HTTP 403 with an XML body botocore cannot parse for a JSON API: code `403`, the
message `User: arn:aws:iam::123456789012:user/<name> is not authorized to perform: <action>`.

`running_keyvault()`: a stand-in for Azure Key Vault and its Entra token endpoint, one HTTPS
server of our own (a trustme CA; the PEM written to a file for AZURE_CA_FILE), speaking the
REST calls azure-keyvault-secrets and azure-identity make:
- any vault request without a token it issued: 401 with Key Vault's challenge,
  `WWW-Authenticate: Bearer authorization="<url>/<tenant>", resource="https://vault.azure.net"`;
- `POST /<tenant>/oauth2/v2.0/token`, client credentials: a bearer token for the one client
  id and secret it knows, else 401 `invalid_client`;
- `GET /secrets/<name>/[<version>]?api-version=`: the secret bundle; 404 `SecretNotFound` for an
  unknown one, 403 `Forbidden` for a name in `denied`;
- `PUT /secrets/<name>?api-version=`: a new version.
It is not Key Vault: no RBAC, soft delete, tags or other calls. Its challenge names Azure's
resource, which is not the 127.0.0.1 it is served on, so the SDK's domain check must be
turned off for it (`verify_challenge_resource=False`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import ssl
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import trustme
from aiohttp import web
from moto.server import ThreadedMotoServer

from hack.testkit.httpd import serve

REGION = "us-east-1"
ALLOW_ALL = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def _post(url: str, body: bytes = b"") -> dict[str, Any]:
    # Not a form: moto reads the raw body, which Flask leaves empty for a form's type.
    headers = {"Content-Type": "text/plain"}
    with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST")) as r:
        data = r.read()
    return json.loads(data) if data else {}


@dataclass
class Moto:
    endpoint: str
    admin: dict[str, str] = field(default_factory=dict)
    """AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the user allowed everything."""

    def credentials(self, keys: Mapping[str, str] | None = None) -> dict[str, str]:
        """Credentials values for a backend: `keys` (the admin's by default), region, endpoint."""
        return {**(keys or self.admin), "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint}

    def client(
        self, service: str, keys: Mapping[str, str] | None = None, region: str = REGION
    ) -> Any:
        keys = keys or self.admin
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )

    def create_secret(self, name: str, value: str | bytes) -> str:
        """A secret; its ARN."""
        kind = "SecretBinary" if isinstance(value, bytes) else "SecretString"
        answer = self.client("secretsmanager").create_secret(Name=name, **{kind: value})
        return str(answer["ARN"])

    def put_secret_version(self, name: str, value: str, stages: list[str] | None = None) -> str:
        """A new version (AWSCURRENT unless `stages`); its version id."""
        extra = {"VersionStages": stages} if stages else {}
        answer = self.client("secretsmanager").put_secret_value(
            SecretId=name, SecretString=value, **extra
        )
        return str(answer["VersionId"])

    def put_parameter(self, name: str, value: str, kind: str = "SecureString") -> None:
        self.client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)

    def user(self, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
        """An IAM user with one inline policy of `statements`; its access key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {
            "AWS_ACCESS_KEY_ID": str(key["AccessKeyId"]),
            "AWS_SECRET_ACCESS_KEY": str(key["SecretAccessKey"]),
        }


@contextlib.contextmanager
def running_moto(*, enforce_iam: bool = True) -> Iterator[Moto]:
    """moto on 127.0.0.1 with its state reset and, by default, IAM enforced. A plain context
    manager: its server runs in a thread, so async tests use it from a fixture as well."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = Moto(f"http://{host}:{port}")
    previous = None
    try:
        _post(f"{moto.endpoint}/moto-api/reset")
        bootstrap = {"AWS_ACCESS_KEY_ID": "AKIDBOOTSTRAP", "AWS_SECRET_ACCESS_KEY": "bootstrap"}
        moto.admin = bootstrap
        moto.admin = moto.user("admin", ALLOW_ALL)
        if enforce_iam:
            answer = _post(f"{moto.endpoint}/moto-api/reset-auth", b"0")
            previous = str(answer["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])
        yield moto
    finally:
        if previous is not None:
            _post(f"{moto.endpoint}/moto-api/reset-auth", previous.encode())
        server.stop()


@dataclass
class Version:
    id: str
    value: str
    created: int


@dataclass
class KeyVaultStandIn:
    url: str = ""
    ca_file: str = ""
    tenant: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    denied: set[str] = field(default_factory=set)
    store: dict[str, list[Version]] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    """(method, path, status) of every request, in order."""
    delay: float = 0.0
    """Seconds each secret read takes, to see how many a client has in flight."""
    peak: int = 0
    """The most secret reads in flight at once."""
    _in_flight: int = 0
    _tokens: set[str] = field(default_factory=set)

    def credentials(self) -> dict[str, str]:
        return {
            "AZURE_KEYVAULT_URL": self.url,
            "AZURE_TENANT_ID": self.tenant,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_AUTHORITY_HOST": self.url,
            "AZURE_CA_FILE": self.ca_file,
        }

    def put(self, name: str, value: str) -> str:
        """A new version of `name`; its id."""
        version = Version(uuid.uuid4().hex, value, int(time.time()))
        self.store.setdefault(name, []).append(version)
        return version.id

    def secret_reads(self) -> int:
        """Authorized GETs of secrets answered (whatever the answer), challenges excluded."""
        return sum(
            1 for m, p, s in self.log if m == "GET" and p.startswith("/secrets/") and s != 401
        )

    def _bundle(self, name: str, version: Version) -> dict[str, Any]:
        return {
            "value": version.value,
            "id": f"{self.url}/secrets/{name}/{version.id}",
            "attributes": {
                "enabled": True,
                "created": version.created,
                "updated": version.created,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }

    @staticmethod
    def _error(status: int, code: str, message: str) -> web.Response:
        body = {"error": {"code": code, "message": message}}
        return web.json_response(body, status=status)

    @web.middleware
    async def _logged(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        self.log.append((request.method, request.path, response.status))
        return response

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.match_info["tenant"] != self.tenant:
            return web.json_response({"error": "invalid_tenant"}, status=400)
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"),
            form.get("client_secret"),
        ) != (self.client_id, self.client_secret):
            return web.json_response(
                {"error": "invalid_client", "error_description": "AADSTS7000215: bad client"},
                status=401,
            )
        token = secrets.token_urlsafe(24)
        self._tokens.add(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3600, "access_token": token}
        )

    def _challenge(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and header[7:] in self._tokens:
            return None
        challenge = (
            f'Bearer authorization="{self.url}/{self.tenant}", resource="https://vault.azure.net"'
        )
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    async def _secret(self, request: web.Request) -> web.Response:
        refused = self._challenge(request)
        if refused:
            return refused
        if not request.query.get("api-version"):
            return self._error(400, "BadParameter", "api-version is required")
        name = request.match_info["name"]
        wanted = request.match_info.get("version", "")
        self._in_flight += 1
        self.peak = max(self.peak, self._in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._in_flight -= 1
        if name in self.denied:
            return self._error(
                403,
                "Forbidden",
                "Caller is not authorized to perform action on resource.\r\n"
                f"Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n"
                f"Resource: '/vaults/standin/secrets/{name}'",
            )
        versions = self.store.get(name, [])
        found = [v for v in versions if v.id == wanted] if wanted else versions[-1:]
        if not found:
            what = f"{name}/{wanted}" if wanted else name
            return self._error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {what} was not found in this key vault.",
            )
        return web.json_response(self._bundle(name, found[0]))

    async def _set(self, request: web.Request) -> web.Response:
        refused = self._challenge(request)
        if refused:
            return refused
        name = request.match_info["name"]
        if name in self.denied:
            return self._error(403, "Forbidden", "Caller is not authorized to perform action.")
        body = await request.json()
        version_id = self.put(name, str(body["value"]))
        version = self.store[name][-1]
        assert version.id == version_id
        return web.json_response(self._bundle(name, version))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._logged])
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/secrets/{name}/{version}", self._secret)
        app.router.add_get("/secrets/{name}/", self._secret)
        app.router.add_get("/secrets/{name}", self._secret)
        app.router.add_put("/secrets/{name}", self._set)
        return app


@contextlib.asynccontextmanager
async def running_keyvault() -> AsyncIterator[KeyVaultStandIn]:
    """The Key Vault stand-in on 127.0.0.1 over HTTPS; its CA in a file for AZURE_CA_FILE."""
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    with tempfile.TemporaryDirectory(prefix="keyvault-") as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        vault = KeyVaultStandIn(ca_file=str(ca_file))
        runner, port = await serve(vault.app(), tls=tls)
        vault.url = f"https://127.0.0.1:{port}"
        try:
            yield vault
        finally:
            await runner.cleanup()
