"""The demo password, kept in the instance folder (mode 0600) so `make run` can print it."""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "demo-credentials.json"


def save_credentials(instance_path: str, password: str, logins) -> None:
    path = Path(instance_path) / FILE
    data = {"password": password, "accounts": [{"role": x.role.value, "email": x.email, "name": x.name} for x in logins]}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def describe_credentials(instance_path: str) -> str:
    path = Path(instance_path) / FILE
    if not path.exists():
        return "no demo accounts in this instance (the demo dataset was not loaded by `flask demo load`)"
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = ["Demo accounts (this installation only; password generated at first run):"]
    for account in data["accounts"]:
        lines.append(f"  {account['role']:<12} {account['email']:<40} {account['name']}")
    lines.append(f"  password for all of them: {data['password']}")
    lines.append("  every other demo enterprise contact and expert e-mail signs in with the same password")
    return "\n".join(lines)
