"""What the browser tests share: Debian's chromium driven by Playwright (its own browser download is unreachable here),
free loopback ports and the tail of a server's log."""
import socket
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")   # apt-get install chromium; .ci/run installs it
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    "A TCP port free on 127.0.0.1 right now."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 40) -> str:
    "The last `n` lines of a log file ('' if it does not exist)."
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""
