"""Where a study lives: Optuna's RDB storage on SQLite (default) or PostgreSQL.

The default is a SQLite file in the study directory, so a sweep needs no server;
``postgresql://USER@HOST/DB`` lets workers on many machines share one study. Every
worker sends a heartbeat while it runs a trial; a trial whose worker died (its
heartbeat older than the grace period) is marked failed by the next worker that starts
a trial, and a copy with the same parameters is queued to run again.
"""

import os
import random
import re
import time
import warnings

from tgraph.errors import ConfigError

__all__ = ["default_storage", "open_storage", "database_url", "redact", "require_optuna",
           "MISSING_OPTUNA", "MAX_RETRY"]

MISSING_OPTUNA = ("sweeps need optuna, which is not installed; install it with "
                  "`pip install -e '.[sweep]'` (optuna, and psycopg for PostgreSQL)")
MAX_RETRY = 3  # a trial whose workers die this many times is not queued again
STORAGE_FILE = "study.db"


def require_optuna():
    """Import optuna (quiet: the sweep prints its own line per trial), or raise the
    install hint."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(MISSING_OPTUNA) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def default_storage(study_dir):
    """``sqlite:////abs/path/STUDY_DIR/study.db``."""
    return "sqlite:///" + os.path.abspath(os.path.join(study_dir, STORAGE_FILE))


def redact(url):
    """``url`` with its password replaced by ``***`` (for messages)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def database_url(url):
    """The SQLAlchemy URL of ``url``: ``postgresql://`` and ``postgres://`` get the
    psycopg (3) driver, ``postgresql+psycopg://`` (what ``pip install -e '.[sweep]'``
    installs); other URLs are kept."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def _retry_callback(optuna):
    storages = optuna.storages
    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
    if cls is not None:  # optuna >= 4.9
        return "heartbeat_stale_trial_callback", cls(max_retry=MAX_RETRY)
    return "failed_trial_callback", storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)


def _engine_kwargs(url):
    if url.startswith("sqlite"):  # several local workers: wait for the file lock
        return {"connect_args": {"timeout": 120}}
    return {"pool_pre_ping": True}


def _reason(err):
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _connect(optuna, url, heartbeat):
    name, callback = _retry_callback(optuna)
    return optuna.storages.RDBStorage(
        database_url(url), engine_kwargs=_engine_kwargs(url), heartbeat_interval=int(heartbeat),
        grace_period=max(2 * int(heartbeat), int(heartbeat) + 2), **{name: callback})


def open_storage(url, heartbeat=60, attempts=5):
    """Optuna's RDB storage at ``url``, with heartbeats and retries of dead workers' trials.

    Workers that start together on a new database race to create its tables; the
    losers try again (up to ``attempts`` times) and find them made.

    Args:
        url: SQLAlchemy URL: ``sqlite:///path`` or ``postgresql://USER[:PW]@HOST[:PORT]/DB``.
        heartbeat: seconds between a running trial's heartbeats; a trial silent for
            twice as long (at least 2 s more) counts as dead.
        attempts: tries at setting up the tables.

    Raises:
        ConfigError: the database cannot be reached, its driver is missing, or the URL
            is malformed; the message names the URL (password hidden) and the reason.
    """
    optuna = require_optuna()
    import sqlalchemy.exc

    where = redact(url)
    for attempt in range(attempts):
        try:
            return _connect(optuna, url, heartbeat)
        except sqlalchemy.exc.ArgumentError as err:
            raise ConfigError(f"--storage {where}: not a database URL ({_reason(err)}); use "
                              "e.g. sqlite:///study.db or postgresql://USER@HOST/DB") from None
        except ImportError as err:
            raise ConfigError(f"--storage {where}: the database driver is missing "
                              f"({_reason(err)}); for PostgreSQL: pip install "
                              "'psycopg[binary]'") from None
        except sqlalchemy.exc.OperationalError as err:
            raise ConfigError(f"--storage {where}: cannot reach the database: {_reason(err)}; "
                              "check that the server runs and the host, port, user, password "
                              "and database name") from None
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as err:
            if attempt + 1 == attempts:  # not a race with another worker after all
                raise ConfigError(f"--storage {where}: cannot set up Optuna's tables: "
                                  f"{_reason(err)}") from None
            time.sleep(0.5 + random.random())
