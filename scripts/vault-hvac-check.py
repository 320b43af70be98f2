#!/usr/bin/env python3
"""A second opinion on the Vault KV v2 dialect (SPEC §12): Python's hvac, the client Ansible's
community.hashi_vault uses, against a running scaivault. Usage:

    VAULT_ADDR=http://127.0.0.1:8210 VAULT_TOKEN=skt_... scripts/vault-hvac-check.py

Exits non-zero with the failing step on stderr. Writes only under `hvac-check/` and a mount
named `hvac-check-kv`, and removes both."""

import os
import sys

import hvac
from hvac.exceptions import Forbidden, InvalidPath, InvalidRequest

client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
kv = client.secrets.kv.v2


def check(what, cond):
    if not cond:
        sys.exit(f"hvac check failed: {what}")
    print(f"ok  {what}")


check("token is authenticated", client.is_authenticated())
me = client.auth.token.lookup_self()["data"]
check("lookup-self says not renewable", me["renewable"] is False)

kv.create_or_update_secret(path="hvac-check/app/db", secret={"user": "app", "pw": "one"})
kv.create_or_update_secret(path="hvac-check/app/db", secret={"user": "app", "pw": "two"})
kv.create_or_update_secret(path="hvac-check/readme", secret={"k": "v"})
read = kv.read_secret_version(path="hvac-check/app/db", raise_on_deleted_version=True)
check("read returns the current version", read["data"]["data"]["pw"] == "two")
check("read metadata has version 2", read["data"]["metadata"]["version"] == 2)
v1 = kv.read_secret_version(path="hvac-check/app/db", version=1, raise_on_deleted_version=True)
check("read of version 1", v1["data"]["data"]["pw"] == "one")
keys = kv.list_secrets(path="hvac-check")["data"]["keys"]
check("list is one level with folders", keys == ["app/", "readme"])

try:
    kv.create_or_update_secret(path="hvac-check/app/db", secret={"pw": "x"}, cas=1)
    check("a stale check-and-set is refused", False)
except InvalidRequest as e:
    check("a stale check-and-set is refused", "check-and-set" in str(e))

kv.update_metadata(path="hvac-check/app/db", custom_metadata={"owner": "ops"})
meta = kv.read_secret_metadata(path="hvac-check/app/db")["data"]
check("custom metadata is stored", meta["custom_metadata"] == {"owner": "ops"})
check("metadata lists both versions", sorted(meta["versions"]) == ["1", "2"])

client.sys.enable_secrets_engine(backend_type="kv", path="hvac-check-kv", options={"version": "2"})
kv.create_or_update_secret(path="svc", secret={"a": "b"}, mount_point="hvac-check-kv")
check("a mount reads its own secrets",
      kv.read_secret_version(path="svc", mount_point="hvac-check-kv", raise_on_deleted_version=True)["data"]["data"] == {"a": "b"})
client.sys.disable_secrets_engine(path="hvac-check-kv")

for p in ["hvac-check/app/db", "hvac-check/readme"]:
    kv.delete_metadata_and_all_versions(path=p)
try:
    kv.read_secret_version(path="hvac-check/app/db", raise_on_deleted_version=True)
    check("a destroyed secret is gone", False)
except InvalidPath:
    check("a destroyed secret is gone", True)

bad = hvac.Client(url=os.environ["VAULT_ADDR"], token="skt_not_a_token_000000000000000000000")
try:
    bad.secrets.kv.v2.read_secret_version(path="hvac-check/x", raise_on_deleted_version=True)
    check("a bad token is refused", False)
except Forbidden:
    check("a bad token is refused", True)
print("hvac: every check passed")
