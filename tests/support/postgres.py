"""A throwaway PostgreSQL cluster on 127.0.0.1, from Debian's server binaries.

The cluster lives in a temporary directory and is removed at the end. PostgreSQL
refuses to run as root, so as root the cluster belongs to the ``postgres`` user (made
by Debian's package) and its commands run through ``runuser``.
"""

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

__all__ = ["server_binaries", "throwaway_cluster", "MISSING"]

MISSING = ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb, pg_ctl); "
           "install Debian's server: apt-get update && apt-get install -y postgresql")


def server_binaries():
    """The bin directory of the newest installed PostgreSQL server, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    found = [os.path.dirname(p) for p in found
             if os.path.exists(os.path.join(os.path.dirname(p), "pg_ctl"))]

    def version(path):
        name = os.path.basename(os.path.dirname(path))
        return tuple(int(x) for x in name.split(".") if x.isdigit())

    return max(found, key=version) if found else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _owner():
    """(user name, command prefix) the cluster runs as."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, []
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name, ["runuser", "-u", name, "--"]
    raise RuntimeError("running as root, and there is no postgres or nobody user to run "
                       "the PostgreSQL server as")


def _run(prefix, *cmd):
    result = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n"
                           f"{result.stderr}")
    return result


@contextlib.contextmanager
def throwaway_cluster(bindir, database="tgraph", user="tgraph"):
    """Start a cluster; yields its URL ``postgresql://USER@127.0.0.1:PORT/DATABASE``."""
    name, prefix = _owner()
    root = tempfile.mkdtemp(prefix="tgraph-pg-")
    info = pwd.getpwnam(name)
    os.chown(root, info.pw_uid, info.pw_gid)
    data, log = os.path.join(root, "data"), os.path.join(root, "server.log")
    port = _free_port()
    started = False
    try:
        _run(prefix, os.path.join(bindir, "initdb"), "-D", data, "-U", user, "--auth=trust",
             "-E", "UTF8", "--no-sync")
        _run(prefix, os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-w", "-t", "60",
             "-o", f"-h 127.0.0.1 -p {port} -k {root} -F", "start")
        started = True
        _run(prefix, os.path.join(bindir, "createdb"), "-h", "127.0.0.1", "-p", str(port),
             "-U", user, database)
        yield f"postgresql://{user}@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run([*prefix, os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
