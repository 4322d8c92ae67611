"""`helmward values NAME`: a release's composed values with every secret-store reference shown
masked, as `<ref+awssecrets://…>`. `helmward values get REF` and `helmward values set REF`
read and write one value of a store, the operator's tool. A value is printed only with `--show`
and when stdout is a terminal; otherwise its size and digest stand for it. `set` reads the value
from stdin, so it never sits in a shell's history or a process list."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

import yaml

from controller.cli.command import Command, Exit
from controller.cli.objects import find_release
from controller.cli.session import Session, open_session
from controller.helmrelease.values import compose_values
from internal.kube import rest
from internal.values.backends import open_backend
from internal.values.backends.base import BackendError, Credentials
from internal.values.compose import ValuesError
from internal.values.refs import RefError, is_ref, masked, parse

VERBS = ("get", "set")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="+", metavar="NAME | get REF | set REF")
    parser.add_argument(
        "--credentials",
        default=None,
        help="a Secret of the namespace holding the store's credentials (default: your own "
        "environment's, as the SDKs find them)",
    )
    parser.add_argument(
        "--show", action="store_true", help="print the secret itself (only to a terminal)"
    )


def shown(value: str, show: bool) -> str:
    if show and sys.stdout.isatty():
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    return f"<hidden: {len(value.encode())} bytes, sha256:{digest}>"


async def _credentials(session: Session, namespace: str, name: str | None) -> Credentials:
    if not name:
        return Credentials(ambient=True, source="your environment")
    secret = await rest.get_optional(session.api, f"/api/v1/namespaces/{namespace}/secrets/{name}")
    if secret is None:
        raise RefError(f"credentials Secret '{namespace}/{name}' not found")
    data = {
        k: base64.b64decode(v).decode("utf-8", "replace")
        for k, v in (secret.get("data") or {}).items()
    }
    return Credentials(values=data, source=f"Secret {namespace}/{name}")


async def _store(args: argparse.Namespace, session: Session) -> int:
    verb, *rest_of = args.words
    if len(rest_of) != 1 or not is_ref(rest_of[0]):
        print(f"usage: helmward values {verb} ref+<backend>://<path>", file=sys.stderr)
        return Exit.USAGE
    ref = parse(rest_of[0])
    namespace = session.namespace
    credentials = await _credentials(session, namespace, args.credentials)
    backend = await open_backend(ref.backend, credentials, api=session.api, namespace=namespace)
    try:
        if verb == "get":
            got = await backend.get([ref])
            print(shown(str(got[ref]), args.show))
        else:
            value = sys.stdin.read().removesuffix("\n")
            await backend.set(ref, value)
            print(f"✓ {ref.text} set ({shown(value, False)})")
    finally:
        await backend.close()
    return Exit.OK


async def _release(args: argparse.Namespace, session: Session) -> int:
    if len(args.words) != 1:
        print("usage: helmward values NAME", file=sys.stderr)
        return Exit.USAGE
    item = await find_release(session, args.words[0])
    if item is None:
        return Exit.NOT_READY
    if item.release is None:
        print(f"✗ {item.ref} is invalid: {item.invalid}", file=sys.stderr)
        return Exit.NOT_READY
    try:
        values = masked(await compose_values(session.api, item.release))
    except ValuesError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return Exit.NOT_READY
    if args.output == "json":
        print(json.dumps(values, indent=2, sort_keys=True))
    else:
        print(yaml.safe_dump(values, sort_keys=False, default_flow_style=False), end="")
    return Exit.OK


async def run(args: argparse.Namespace) -> int:
    async with open_session(args) as session:
        try:
            if args.words[0] in VERBS:
                return await _store(args, session)
            return await _release(args, session)
        except (RefError, BackendError) as exc:
            print(f"✗ {exc}", file=sys.stderr)
            return Exit.NOT_READY


COMMANDS = (
    Command(
        "values",
        "a release's composed values, references masked; get or set one store value",
        configure,
        run,
    ),
)
