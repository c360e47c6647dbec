"""``ireserve-salto``: the demo and a stand-alone sandbox for trying the plugin by hand."""

from __future__ import annotations

import json
import logging
import os
import sys
import time

import click


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Show the plugin's own log lines.")
def main(verbose: bool) -> None:
    """i-Reserve Salto KS plugin tools."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="     log: %(name)s %(message)s")


@main.command()
def demo() -> None:
    """Run the whole flow against the embedded Salto KS sandbox."""
    from .sandbox.demo import run_demo

    sys.exit(0 if run_demo(click.echo) else 1)


@main.command()
@click.option("--settings-file", type=click.Path(dir_okay=False), required=True,
              help="Where to write the park settings and client variables (mode 0600).")
def sandbox(settings_file: str) -> None:
    """Serve the sandbox until Ctrl-C; write how to reach it to SETTINGS_FILE."""
    from .sandbox import SaltoSandbox

    with SaltoSandbox() as box:
        assert box.site is not None
        data = {
            "env": {"SALTO_KS_ACCEPTANCE_CLIENT_ID": box.client_id,
                    "SALTO_KS_ACCEPTANCE_CLIENT_SECRET": box.client_secret},
            "salto_ks": {"environment": "acceptance", "api_url": box.api_url,
                         "identity_url": box.identity_url, "username": box.username,
                         "password": box.password, "site_uid": box.site.site_uid,
                         "open_statuses": ["confirmed"]},
        }
        fd = os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        click.echo(f"Salto KS sandbox: identity {box.identity_url}, API {box.api_url}")
        click.echo(f"Settings and client variables written to {settings_file}. Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
