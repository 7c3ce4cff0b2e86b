"""The member home: where the keystore and the local store live, and how it is unlocked.

Layout of CHATHAM_HOME (default: the platform's user data dir), mode 0700:

    keystore         the sealed private keys (chatham.crypto.seal_keystore), 0600
    store.sqlite3    the local store (ciphertexts and verified state), 0600

Unlocking needs the passphrase, whose Argon2id cost (≈0.4 s) is deliberate.
Changing it re-seals the same keys and replaces the keystore atomically
(`Home.change_passphrase`).
An unlock session keeps the Argon2id output (which opens this keystore and
nothing else; it is not the passphrase) in a 0600 file inside a private 0700
runtime directory (`$XDG_RUNTIME_DIR/chatham`, a tmpfs on most systems), with
an expiry that every command checks. `chatham lock` overwrites and removes it.
A process running as the same user could read the session file while it
lives, just as it could read an agent's memory; docs/client.md says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec
from chatham import crypto

from ...errors import (
    AlreadyInitialized,
    HomeError,
    Locked,
    NotInitialized,
    UnsafePermissions,
    UsageError,
    WrongPassphrase,
)
from .process import ENV_PASSPHRASE, env_passphrase

ENV_HOME: Final = "CHATHAM_HOME"
SECRET_ENV: Final = (ENV_PASSPHRASE,)
"""Variables that must never reach a child process such as $EDITOR."""

KEYSTORE: Final = "keystore"
STORE: Final = "store.sqlite3"
DEFAULT_SESSION: Final = 15 * 60
MAX_SESSION: Final = 7 * 24 * 3600


def default_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(ENV_HOME):
        return Path(env[ENV_HOME]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("chatham", appauthor=False))


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """A private directory for unlock sessions and editor drafts (created 0700, checked).

    `$XDG_RUNTIME_DIR/chatham` (a per-user tmpfs on most systems) when that base is the
    member's own and closed to others' writes; otherwise `/run/user/UID/chatham` when that
    directory is there and ours; otherwise a directory in
    the member's own state directory (`~/.local/state/chatham/run`). Never a name in a shared
    temp directory: another local user could create `/tmp/chatham-UID` first and so lock the
    member out, or hand them a directory they do not own.
    """
    env = os.environ if env is None else env
    base = env.get("XDG_RUNTIME_DIR")
    if base and _only_ours(Path(base), missing_ok=True):
        return private_dir(Path(base) / "chatham")
    run = Path(f"/run/user/{os.getuid()}")
    if _only_ours(run):
        return private_dir(run / "chatham")
    import platformdirs

    if sys.platform == "darwin":  # per-user, under ~/Library
        return private_dir(Path(platformdirs.user_runtime_dir("chatham", appauthor=False)))
    return private_dir(Path(platformdirs.user_state_dir("chatham", appauthor=False)) / "run")


def _only_ours(path: Path, *, missing_ok: bool = False) -> bool:
    """Whether `path` is a directory of this user that no one else can add names to.

    A `XDG_RUNTIME_DIR` set to a shared directory (`/tmp` in some containers and login
    setups, or another user's after `su`) would let another local user create `chatham`
    in it first: such a base is passed over, as the XDG spec says a runtime dir must be
    the user's own. A base that does not exist yet is created by `private_dir`."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return missing_ok
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def private_dir(path: Path) -> Path:
    """Create `path` (mode 0700) or check that it is ours and not open to others."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePermissions(
            f"{path} is not a directory",
            hint="remove it, or point CHATHAM_HOME or XDG_RUNTIME_DIR at a directory of yours",
        )
    if st.st_uid != os.getuid():
        raise UnsafePermissions(
            f"{path} belongs to another user",
            hint="nothing was written to it; have it removed (by its owner or an "
            "administrator), or point CHATHAM_HOME or XDG_RUNTIME_DIR at a directory of yours",
        )
    if st.st_mode & 0o077:
        raise UnsafePermissions(
            f"{path} is accessible to other users (mode {st.st_mode & 0o777:o})"
        )
    return path


def shred(path: Path) -> None:
    """Overwrite a regular file with zeros, then remove it; remove anything else as it is
    (a link is removed, never followed)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                left = os.fstat(fd).st_size
                zeros = bytes(min(left, 1 << 20))  # a downloaded file may be 1 GiB
                while left > 0:
                    left -= os.write(fd, zeros[: min(left, len(zeros))])
                os.fsync(fd)
        finally:
            os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def wipe(directory: Path) -> None:
    """Shred every file under `directory`, then remove it and its subdirectories."""
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            shred(Path(root) / name)
        for name in dirs:
            sub = Path(root) / name
            if sub.is_symlink():
                sub.unlink()
            else:
                with contextlib.suppress(OSError):
                    sub.rmdir()
    with contextlib.suppress(FileNotFoundError):
        directory.rmdir()


def scratch_dir(kind: str, prefix: str) -> Path:
    """A fresh private 0700 directory for plaintext scratch work, `runtime/KIND/PREFIX-PID-…`
    (an edit, a web download or upload); the caller `wipe`s it when done.

    A process that is killed (Ctrl-C mid-download, a crash, a kill) cannot wipe its own, so
    each call first wipes those whose process is gone: plaintext never outlives the next use.
    """
    parent = private_dir(runtime_dir() / kind)
    for left in parent.glob(f"{prefix}-*-*"):
        if not _alive(left.name.removeprefix(f"{prefix}-").split("-")[0]):
            wipe(left)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=parent))


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def write_private(path: Path, data: bytes) -> None:
    """Atomically write a 0600 file: write a sibling, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


MIN_PASSPHRASE: Final = 8


def check_new_passphrase(passphrase: str) -> str:
    """A passphrase a keystore may be sealed under: at least `MIN_PASSPHRASE` characters."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(
            f"a passphrase needs at least {MIN_PASSPHRASE} characters",
            hint="nothing was changed; a few unrelated words make a good passphrase",
        )
    return passphrase


def _key_material(s: crypto.Secrets) -> tuple[bytes, ...]:
    return (
        b"" if s.member is None else s.member.seed,
        s.device.seed,
        s.device.kem_seed,
        s.store_secret,
        s.created.to_bytes(8, "big"),
    )


def scrubbed_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: no passphrase, ever."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if k not in SECRET_ENV}


def parse_duration(text: str) -> int:
    """`90s`, `15m`, `2h`, `1d` (or plain seconds) → seconds."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        unit = units.get(text[-1:], 0)
        seconds = int(text[:-1]) * unit if unit else int(text)
    except ValueError:
        raise UsageError(
            f"not a duration: {text!r}", hint="write it like 90s, 15m, 2h or 1d"
        ) from None
    if seconds <= 0:
        raise UsageError("a duration must be positive", hint="write it like 90s, 15m, 2h or 1d")
    return seconds


class _Session(msgspec.Struct, array_like=True, frozen=True):
    v: int
    expires: float
    keystore: bytes  # SHA-256 of the keystore file the key opens
    key: bytes


@dataclass(frozen=True)
class Home:
    """A member home directory."""

    path: Path

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> Home:
        return cls(default_home(env))

    @property
    def keystore_path(self) -> Path:
        return self.path / KEYSTORE

    @property
    def store_path(self) -> Path:
        return self.path / STORE

    def exists(self) -> bool:
        return self.keystore_path.exists()

    def ensure(self) -> None:
        private_dir(self.path)

    def read_keystore(self) -> bytes:
        if not self.exists():
            raise NotInitialized(f"no Chatham identity in {self.path}")
        private_dir(self.path)
        st = self.keystore_path.stat()
        if st.st_mode & 0o077:
            raise UnsafePermissions(f"{self.keystore_path} is readable by other users")
        return self.keystore_path.read_bytes()

    def create_keystore(self, secrets: crypto.Secrets, passphrase: str) -> None:
        if self.exists():
            raise AlreadyInitialized(f"{self.path} already holds a Chatham identity")
        check_new_passphrase(passphrase)
        self.ensure()
        write_private(self.keystore_path, crypto.seal_keystore(secrets, passphrase))

    def change_passphrase(self, old: str, new: str) -> None:
        """Seal the keystore under `new`; it opened with `old`. The keys stay the same.

        A wrong `old`, or a `new` that is weak or the same, raises and changes nothing. The
        new keystore is written beside the old one, synced, and renamed over it (then the
        directory is synced), so a crash at any moment leaves a keystore that opens with
        exactly one of the two passphrases. The unlock session, whose key opened only the
        old file, is ended: the next command asks for the new passphrase.
        """
        data = self.read_keystore()
        try:
            key = crypto.keystore_key(data, old)
            secrets = crypto.open_keystore_with_key(data, key)
        except crypto.WrongPassphrase:
            raise WrongPassphrase() from None
        except crypto.KeystoreError as e:
            raise HomeError(f"the keystore cannot be used: {e}") from None
        check_new_passphrase(new)
        if new == old:
            raise UsageError(
                "the new passphrase is the one the keystore has",
                hint="nothing was changed; choose a different passphrase",
            )
        sealed = crypto.seal_keystore(secrets, new)
        # Read back before it replaces anything: the file must open with `new` to the same keys.
        if _key_material(crypto.open_keystore(sealed, new)) != _key_material(secrets):
            raise HomeError("the re-sealed keystore did not open to the same keys; nothing changed")
        for stale in self.path.glob(f".{KEYSTORE}.*.tmp"):
            stale.unlink(missing_ok=True)  # a change that died before its rename
        if self.keystore_path.read_bytes() != data:
            raise HomeError(
                "the keystore changed while its passphrase was being changed",
                hint="nothing was changed here; try again",
            )
        write_private(self.keystore_path, sealed)
        self.end_session()

    # --- unlocking ------------------------------------------------------------------------------

    def unlock(
        self,
        *,
        passphrase: str | None = None,
        env: Mapping[str, str] | None = None,
        prompt: Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.time,
        tries: int = 1,
    ) -> tuple[crypto.Secrets, bytes]:
        """Open the keystore: (secrets, Argon2id key).

        Sources, in order: an explicit passphrase; a live unlock session;
        CHATHAM_PASSPHRASE; the prompt, asked up to `tries` times while the answer is
        wrong (a typo at a prompt costs a retype, not the command). A wrong passphrase
        changes nothing.
        """
        data = self.read_keystore()
        if passphrase is None:
            key = self.session_key(data, clock=clock)
            if key is not None:
                try:
                    return crypto.open_keystore_with_key(data, key), key
                except crypto.KeystoreError:
                    self.end_session()
            passphrase = env_passphrase(env)
        asked = passphrase is None and prompt is not None
        for attempt in range(max(1, tries) if asked else 1):
            if asked:
                assert prompt is not None
                passphrase = prompt()
            if not passphrase:
                raise Locked()
            try:
                key = crypto.keystore_key(data, passphrase)
                return crypto.open_keystore_with_key(data, key), key
            except crypto.WrongPassphrase:
                if attempt + 1 >= (tries if asked else 1):
                    raise WrongPassphrase() from None
            except crypto.KeystoreError as e:
                raise HomeError(f"the keystore cannot be used: {e}") from None
        raise WrongPassphrase()  # pragma: no cover - the loop returns or raises

    # --- unlock sessions ------------------------------------------------------------------------

    def session_path(self, env: Mapping[str, str] | None = None) -> Path:
        tag = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:24]
        return runtime_dir(env) / f"session-{tag}"

    def start_session(
        self, key: bytes, seconds: int, *, clock: Callable[[], float] = time.time
    ) -> float:
        """Keep the Argon2id output for `seconds`; returns the expiry time."""
        if not 0 < seconds <= MAX_SESSION:
            raise UsageError(
                "an unlock session lasts between 1 second and 7 days",
                hint="pass a shorter --for",
            )
        data = self.read_keystore()
        expires = clock() + seconds
        blob = msgspec.msgpack.encode(_Session(1, expires, hashlib.sha256(data).digest(), key))
        write_private(self.session_path(), blob)
        return expires

    def session_key(
        self, keystore: bytes, *, clock: Callable[[], float] = time.time
    ) -> bytes | None:
        path = self.session_path()
        try:
            st = path.lstat()
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise UnsafePermissions(f"{path} is not a private file")
        try:
            s = msgspec.msgpack.decode(path.read_bytes(), type=_Session)
        except (msgspec.DecodeError, msgspec.ValidationError, OSError):
            self.end_session()
            return None
        if s.v != 1 or clock() >= s.expires or s.keystore != hashlib.sha256(keystore).digest():
            self.end_session()
            return None
        return s.key

    def session_expires(self, *, clock: Callable[[], float] = time.time) -> float | None:
        """When the current unlock session ends, or None when there is none."""
        if not self.exists():
            return None
        key = self.session_key(self.read_keystore(), clock=clock)
        if key is None:
            return None
        s = msgspec.msgpack.decode(self.session_path().read_bytes(), type=_Session)
        return s.expires

    def end_session(self) -> bool:
        """Overwrite and remove the session file; True if there was one."""
        path = self.session_path()
        if not path.exists():
            return False
        shred(path)
        return True
