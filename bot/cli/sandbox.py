"""`sandbox`: the embedded Zuora emulator and its demo tenant as an HTTP server."""

from __future__ import annotations

import argparse


def sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ZuoraSandbox
    from bot.sandbox.server import SandboxServer

    sandbox = ZuoraSandbox(today=args.today, default_version=args.default_version)
    if args.latency:
        sandbox.inject("/*", latency=args.latency)
    server = SandboxServer(sandbox, args.host, args.port)
    tenant = sandbox.tenant
    print(f"Zuora sandbox listening on {server.url}", flush=True)
    print(f"  ZUORA_BASE_URL={server.url}")
    print(f"  ZUORA_CLIENT_ID={DEMO_CLIENT_ID}")
    print(f"  ZUORA_CLIENT_SECRET={DEMO_CLIENT_SECRET}")
    print(f"  demo tenant: {len(tenant.accounts)} accounts, {len(tenant.invoices)} invoices, "
          f"{len(tenant.bill_runs)} bill runs, today is {tenant.today}")
    print(f"  try: curl -s -X POST {server.url}/oauth/token -d grant_type=client_credentials "
          f"-d client_id={DEMO_CLIENT_ID} -d client_secret={DEMO_CLIENT_SECRET}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
