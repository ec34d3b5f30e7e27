"""A Tessera server of a client suite's own: `target/debug/tessera serve` (or `$TESSERA_BIN`)
on a free loopback port with a fresh data directory and fast password hashing, its CLI run
against the same settings, and stopped at the end. Shared by the SDK suites of this folder."""

import os
import re
import subprocess
import tempfile

BINARY = os.environ.get("TESSERA_BIN", os.path.join("target", "debug", "tessera"))


class TesseraProcess:
    def __init__(self, prefix, **settings):
        """`settings`: more `TESSERA_*` variables (a public URL, say)."""
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
        self.env.update(
            TESSERA_DATA_DIR=self.dir,
            TESSERA_LISTEN="127.0.0.1:0",
            TESSERA_ARGON2__MEMORY_KIB="256",
            TESSERA_ARGON2__ITERATIONS="1",
            TESSERA_LOG_LEVEL="warn",
            **settings,
        )
        self.process = subprocess.Popen([BINARY, "serve"], env=self.env, stdout=subprocess.PIPE, text=True)
        self.url = None
        # Where it listens, which a public URL of another host does not say.
        self.listening = None
        for line in self.process.stdout:
            listening = re.match(r"Tessera \S+ is listening on (\S+)", line)
            if listening:
                self.listening = listening.group(1)
            match = re.match(r"Log in at (\S+)/login", line)
            if match:
                self.url = match.group(1)
                break
        assert self.url and self.listening, "the server did not say where it listens"

    def cli(self, *args, input=None):
        return subprocess.run(
            [BINARY, *args], env=self.env, check=True, capture_output=True, text=True, input=input
        ).stdout

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
