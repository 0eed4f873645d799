"""Where a study is stored, and one line for each way its storage can fail.

    store = storage(cfg)              # journal:FILE (the default, <search.results_dir>/journal.log), sqlite:///FILE,
                                      # or any RDB URL such as postgresql://... (docs/cluster.md)
    with storage_errors(cfg): ...     # a full disk or a database that goes away: one line naming search.storage

A study's folder (summary.yaml, select/) belongs with its storage (check_storage_and_folder).
"""

from __future__ import annotations

import fcntl
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from omegaconf import DictConfig

from mnist_design.errors import UserError
from mnist_design.runs.preflight import probe_write
from mnist_design.search import journal

JOURNAL_FILE = "journal.log"


class StudyError(UserError):
    """A storage that cannot be opened, or a continuation that does not match the study it continues."""


class StorageUnwritable(UserError):
    """The study's storage failed mid-write (a full disk): exit 4, as any file-system refusal."""

    status = 4


def os_error_in(error: BaseException | None) -> OSError | None:
    """The OSError an exception was raised in handling (Optuna, failing to record a failed write, raises again)."""
    while error is not None and not isinstance(error, OSError):
        error = error.__cause__ or error.__context__
    return error


@contextmanager
def database_errors(cfg: DictConfig) -> Iterator[None]:
    """A database that refuses or goes away, wherever the command is: one line naming search.storage."""
    try:
        yield
    except UserError:
        raise
    except Exception as error:
        if database_error(error):
            raise StorageUnwritable(
                f"search.storage={storage_url(cfg)}: the database refused or went away ({first_line(error)}); the "
                f"trials it recorded as finished are kept there: run the same command again once it is back"
            ) from None
        raise


@contextmanager
def storage_errors(cfg: DictConfig) -> Iterator[None]:
    """Around Optuna's own writes: a database failure (database_errors), or a file-system failure of the journal, is
    one line naming the storage, not a chain of traces."""
    try:
        with database_errors(cfg):
            yield
    except UserError:
        raise
    except Exception as error:
        cause = os_error_in(error)
        if cause is None:
            raise
        raise StorageUnwritable(
            f"search.storage={storage_url(cfg)} could not be written ({cause.strerror or cause}); make room and run "
            f"the same command again: a torn last record is set aside when the study is next opened"
        ) from None


def journal_path(cfg: DictConfig) -> Path:
    return Path(cfg.search.results_dir) / JOURNAL_FILE


def check_storage_and_folder(cfg: DictConfig) -> None:
    """A study's folder (summary.yaml, select/) belongs to the storage beside it: a search given another storage must
    not write its selection into a folder that holds another study's journal (issue 46)."""
    own_journal = journal_path(cfg)
    if not cfg.search.storage or not own_journal.is_file():
        return
    if storage_url(cfg) in (f"journal:{own_journal}", f"journal:{own_journal.resolve()}"):
        return
    raise StudyError(
        f"search.storage={cfg.search.storage} is not the storage of search.results_dir={cfg.search.results_dir}, "
        f"which holds its own study ({JOURNAL_FILE}); give search.results_dir=<another folder> so this study's "
        f"summary and selection runs go beside its storage"
    )


def storage_url(cfg: DictConfig) -> str:
    """search.storage, or (null) the study's journal file under search.results_dir."""
    return str(cfg.search.storage) if cfg.search.storage else f"journal:{journal_path(cfg).resolve()}"


def check_writable_folder(folder: Path, url: str, create: bool) -> None:
    """The folder the storage file lives in exists (or is created) and takes a new file; else one line."""
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            raise StudyError(f"search.storage={url}: the folder {folder} does not exist; create it or choose another")
        probe_write(folder)
    except OSError as error:
        raise StudyError(
            f"search.storage={url}: cannot write in {folder} ({error.strerror}); "
            f"choose a writable folder with search.storage=journal:FILE"
        ) from None


@contextmanager
def file_lock(path: Path, suffix: str = ".lock") -> Iterator[None]:
    """An exclusive lock on path (a sibling file named with ``suffix``): two commands creating one SQLite study, or
    enqueueing one study's starting points, take turns."""
    with open(path.with_name(path.name + suffix), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def starting_lock(cfg: DictConfig) -> Iterator[None]:
    """Held while a command reads which starting points (or selection runs) a study lacks and enqueues them, or asks
    for the next selection run, so two commands together enqueue each once and take each once. A file storage's
    sibling file (not Optuna's own journal.log.lock); an RDB server's study takes no lock here."""
    url = storage_url(cfg)
    path = next((Path(url.removeprefix(p)) for p in ("journal:", "sqlite:///") if url.startswith(p)), None)
    if path is None:
        yield
        return
    with file_lock(path, ".starting.lock"):
        yield


def storage(cfg: DictConfig) -> optuna.storages.BaseStorage:
    """``journal:FILE`` = a journal file; ``sqlite:///FILE`` or any other URL = an RDB (with a heartbeat)."""
    url = storage_url(cfg)
    if url.startswith("journal:"):
        path = Path(url.removeprefix("journal:"))
        check_writable_folder(path.parent, url, create=not cfg.search.storage)
        journal.repair(path, url)
        try:
            return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
        except OSError as error:
            raise StudyError(f"search.storage={url}: {error.strerror or error}") from None
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        check_writable_folder(path.parent, url, create=False)
        with file_lock(path):
            return rdb_storage(url)
    return rdb_storage(url)


def database_error(error: BaseException | None) -> bool:
    """Whether an exception is, or was raised in handling, a database driver's (SQLAlchemy's DBAPIError: a server
    that refuses a connection, or stops mid-study)."""
    while error is not None:
        if type(error).__module__.startswith("sqlalchemy") and type(error).__name__.endswith("Error"):
            return True
        error = error.__cause__ or error.__context__
    return False


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def with_driver(url: str) -> str:
    """``postgresql://`` means SQLAlchemy's default driver, psycopg2; where only psycopg 3 is installed (the
    project's ``cluster`` extra) the same URL goes through it."""
    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None:
        if importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def rdb_storage(url: str) -> optuna.storages.BaseStorage:
    try:
        return optuna.storages.RDBStorage(with_driver(url), heartbeat_interval=60, grace_period=180)
    except Exception as error:  # noqa: BLE001 - SQLAlchemy raises a dozen kinds for a bad URL or an unreachable server
        reason = str(error).splitlines()[0]
        driver = ' (PostgreSQL\'s driver: pip install -e ".[cluster]")' if isinstance(error, ImportError) else ""
        raise StudyError(
            f"search.storage={url}: cannot open it ({type(error).__name__}: {reason}){driver}; give "
            f"journal:FILE, sqlite:///FILE or a reachable database URL"
        ) from None
