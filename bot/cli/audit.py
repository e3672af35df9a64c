"""`audit export|verify|checkpoint|mirror`: the approvals audit log from the command line.

Storage and Zuora errors become one line and exit 1 here; a `ConfigError` reaches `bot.__main__.main`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.config import load_settings
from bot.money import count as counted


def audit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.actions.audit import AuditLog
    from bot.config import redact_url
    from bot.storage import StorageUnavailable, database_errors, is_url, open_db
    from bot.zuora.errors import ZuoraError

    settings = load_settings()
    target = args.database or settings.database
    url = is_url(target)
    path = redact_url(str(target)) if url else Path(target)
    if not url and not Path(target).exists():
        print(f"error: {path}: no such database file", file=sys.stderr)
        return 1
    key = settings.audit_key.get_secret_value() if settings.audit_key else None
    if settings.audit_mirror and settings.uses_sandbox and args.audit_command in ("verify", "mirror"):
        print("error: AUDIT_MIRROR is set but ZUORA_BASE_URL is not: there is no Zuora tenant to compare with",
              file=sys.stderr)
        return 1
    try:
        db = open_db(target, migrate=False)
        audit = AuditLog(db, key=key, checkpoints=settings.checkpoint_path(None if url else Path(target)))
        if args.audit_command == "verify":
            from bot.actions.approvals import unaudited
            from bot.actions.store import Store

            problems = audit.verify()
            if "proposals" in db.table_names():
                problems += unaudited(Store(db), audit)
            mirror = _mirror_for(settings, audit) if settings.audit_mirror else None
            if mirror is not None:
                problems += mirror.compare()
            count = audit.head()[0]
        elif args.audit_command == "mirror":
            if not settings.audit_mirror:
                print("error: AUDIT_MIRROR is not set", file=sys.stderr)
                return 1
            sent = _mirror_for(settings, audit).flush()
            print(f"{path}: {counted(sent, 'audit row')} mirrored to Zuora's AI_Audit_Log")
            return 0
        elif args.audit_command == "checkpoint":
            point = audit.checkpoint()
            print(f"{path}: " + (f"checkpoint written ({point.count} rows, head {point.head[:12]}…)" if point else
                                 "nothing to do (AUDIT_KEY unset, or no new rows since the last checkpoint)"))
            return 0
        else:
            sys.stdout.write(audit.export(args.format, since=args.since.isoformat() if args.since else None))
            return 0
    except StorageUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except database_errors() as exc:
        print(f"error: {path}: the audit log cannot be read ({str(exc).splitlines()[0] if str(exc) else exc})",
              file=sys.stderr)
        return 1
    except ZuoraError as exc:
        print(f"error: Zuora's AI_Audit_Log could not be read or written ({type(exc).__name__})", file=sys.stderr)
        return 1
    if problems:
        print(f"{path}: the audit log is NOT intact: " + "; ".join(problems)[:2000])
        return 1
    anchors = [a for a, on in (("signed checkpoints", bool(key)), ("Zuora mirror", settings.audit_mirror)) if on]
    print(f"{path}: the audit log is intact ({count} rows, hash chain verified"
          f"{', checked against ' + ' and '.join(anchors) if anchors else '; no anchor outside the database'})")
    return 0


def _mirror_for(settings: Any, audit: Any) -> Any:
    from bot.actions.mirror import AuditMirror
    from bot.app import zuora_client

    return AuditMirror(zuora_client(settings), audit, redact=settings.redact_pii)
