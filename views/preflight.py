"""Refuse to start a dashboard that would serve the wrong people: `./run.sh app` runs this before Streamlit.

It reads the settings as the server will (.streamlit/config.toml, the STREAMLIT_SERVER_ADDRESS variable, the
command line's --server.address, and the [auth] section of the secrets) and asks analytics.access what must stop
it: OUTCOMES_REQUIRE_SIGNIN=1 without [auth], a weak cookie secret, a missing or broken roles file, local mode
open to the network. Exit 1 with the reasons, else 0 with the mode it will run in. The dashboard checks the same
on every page load (views/signin.py), for servers started without run.sh.

    python -m views.preflight [streamlit options...]
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from analytics import access


def server_address(argv: Sequence[str], environ=os.environ) -> str | None:
    """The address the server will listen on: --server.address on the command line, else the environment
    variable, else config.toml (None: Streamlit's default, every interface)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--server.address="):
            return arg.split("=", 1)[1]
        if arg == "--server.address" and i + 1 < len(argv):
            return argv[i + 1]
    if environ.get("STREAMLIT_SERVER_ADDRESS"):
        return environ["STREAMLIT_SERVER_ADDRESS"]
    from streamlit import config

    return config.get_option("server.address")


def auth_section() -> dict | None:
    """The [auth] section of the secrets files Streamlit will read (None when there is none)."""
    from streamlit.runtime.secrets import secrets_singleton

    if not secrets_singleton.load_if_toml_exists():
        return None
    section = secrets_singleton.get("auth")
    return None if section is None else (section.to_dict() if hasattr(section, "to_dict") else dict(section))


def main(argv: Sequence[str] = ()) -> int:
    try:
        auth = auth_section()
    except Exception as error:  # noqa: BLE001 - a secrets file Streamlit cannot parse
        print(f"The dashboard will not start: .streamlit/secrets.toml cannot be read ({error.__class__.__name__}).",
              file=sys.stderr)
        return 1
    from streamlit import config

    address = server_address(argv)
    problems = access.secrets_file_problems(config.get_option("secrets.files"))
    problems += access.startup_problems(auth, os.environ, address)
    if problems:
        print("The dashboard will not start:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        return 1
    if auth is None:
        print(f"Local mode: no sign-in, this computer only ({address}).")
    else:
        print(f"Signed-in mode: users sign in with the clinic's identity provider; roles from {access.roles_path()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
