"""The sandbox launcher: applies a policy to a child and runs a command in it.

Run by path with an isolated interpreter, never imported for running (it imports only
the standard library, so it starts fast and cannot be influenced by the workspace)::

    python -I -S launcher.py POLICY COMMAND [ARGS...]
    python -I -S launcher.py --probe          # what this kernel supports, as JSON

POLICY is a JSON object, or the same dict in ``marshal`` format, hex-encoded
(:func:`encode_policy`): what callers pass, because importing ``json`` (and ``signal``,
which pulls in ``enum``) would add a third to the launcher's start-up time.

The launcher stays as the command's parent for the whole call:

1. It becomes a *child subreaper* (``PR_SET_CHILD_SUBREAPER``): every process the command
   starts and orphans — ``setsid sleep 100 &``, a double fork — is re-parented to the
   launcher instead of init, so it can always find them.
2. It forks. The child starts its own session, asks to be SIGKILLed if the launcher dies
   (``PR_SET_PDEATHSIG``), enters new mount/network namespaces where the kernel lets it
   (read-only bind mounts for protected entries, no network at all), sets
   ``no_new_privs``, restricts itself with Landlock and ``exec``s the command. Only the
   child is restricted: the launcher stays outside the Landlock domain, so with signal
   scoping (ABI >= 6) the command cannot kill it to orphan its own children.
3. When the command exits, or the launcher is told to stop (SIGTERM/SIGINT/SIGHUP, or its
   parent died: ``PR_SET_PDEATHSIG`` sends it SIGTERM), every remaining descendant gets
   SIGTERM, then SIGKILL after a grace, and is reaped. The launcher then exits the way the
   command did (same code, or the same signal), so callers see the command's status.

The Landlock layer (``landlock_abi``, :func:`plan_rules`, :func:`build_ruleset`) is also
imported in-process by ``agentic_flow.core.sandbox`` for probing and ``doctor``.
"""

from __future__ import annotations

import ctypes
import marshal
import os
import stat
import sys
import time

signal = __import__("_signal")  # the C module: same names as `signal`, without enum (nor typing)

# --------------------------------------------------------------------------- Landlock ABI

SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture (asm-generic)
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RULE_NET_PORT = 2

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

#: Rights that make sense on a file (the kernel refuses directory rights on one).
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR | FS_IOCTL_DEV
LIST_RIGHTS = FS_READ_DIR

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
#: statvfs f_flag bit -> mount flag that must be kept when remounting in a user namespace.
_LOCKED_FLAGS = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME),
                 (4096, MS_RELATIME))

DEFAULT_GRACE = 0.5


class SandboxSetupError(Exception):
    """The policy cannot be applied (the command is then not run)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = None


def _lib():  # noqa: ANN202 - ctypes.CDLL
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise SandboxSetupError(f"{what} failed: {os.strerror(err)} (errno {err})")
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or disabled."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _lib().syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                                 ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def fs_rights(abi: int) -> int:
    """Every filesystem right this ABI knows (what a writable root gets)."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _grant(path: str, rights: int, denied: list[str], out: list[tuple[str, int]]) -> None:
    """Grant ``rights`` beneath ``path`` except beneath every ``denied`` path.

    Landlock rules only add, so a secret below ``path`` is carved out by granting each
    sibling on the way down instead of ``path`` itself; the folders on the way only get
    listing rights (a secret file's *name* can be listed, not read).
    """
    below = [d for d in denied if _inside(d, path)]
    if not below:
        out.append((path, rights))
        return
    if path in below:
        return
    out.append((path, rights & LIST_RIGHTS))
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        child = os.path.join(path, name)
        try:
            if stat.S_ISLNK(os.lstat(child).st_mode):
                continue  # a link's target is covered (or not) under its own real path
        except OSError:
            continue
        _grant(child, rights, below, out)


def plan_rules(policy: dict, abi: int) -> list[tuple[str, int]]:
    """The ``(path, rights)`` rules a policy becomes on this ABI (paths already canonical)."""
    all_rights = fs_rights(abi)
    read = READ_RIGHTS & all_rights
    denied = sorted({p for p in policy.get("deny", [])})
    rules: list[tuple[str, int]] = []
    for root in policy.get("read", ["/"]):
        _grant(root, read, denied, rules)
    for root in policy.get("write", []):
        _grant(root, all_rights, [d for d in denied if not _inside(root, d)], rules)
    for device in policy.get("devices", []):
        rules.append((device, all_rights))
    return rules


def build_ruleset(policy: dict, abi: int) -> int:
    """A Landlock ruleset fd (close-on-exec) holding the policy's rules."""
    lib = _lib()
    attr = _RulesetAttr(fs_rights(abi), 0, 0)
    size = 8
    if abi >= 4:
        size = 16
        if not policy.get("network", False):
            attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP  # handled, no port allowed
    if abi >= 6:
        size = 24
        attr.scoped = SCOPE_SIGNAL | (0 if policy.get("network", False) else SCOPE_ABSTRACT_UNIX_SOCKET)
    fd = _check(lib.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                            ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for path, rights in plan_rules(policy, abi):
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # vanished or unreadable: nothing to grant
            try:
                if not stat.S_ISDIR(os.fstat(target).st_mode):
                    rights &= FILE_RIGHTS
                if not rights:
                    continue
                rule = _PathBeneathAttr(rights, target)
                _check(lib.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                                   ctypes.byref(rule), ctypes.c_uint32(0)), f"landlock_add_rule({path})")
            finally:
                os.close(target)
    except BaseException:
        os.close(fd)
        raise
    return fd


def restrict_self(ruleset_fd: int) -> None:
    """``no_new_privs`` then ``landlock_restrict_self``: irreversible for this process."""
    lib = _lib()
    _check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(lib.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)),
           "landlock_restrict_self")


# --------------------------------------------------------------------------- namespaces


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_namespaces(network: bool, readonly: list[str]) -> list[str]:
    """Unshare what the policy needs; returns what took effect (``net``, ``mount``).

    A network namespace has only a loopback device that is down: no TCP, UDP or abstract
    unix socket reaches outside. A mount namespace lets protected entries inside writable
    roots be bind-mounted read-only. Both need privileges (root, or an unprivileged user
    namespace); without them nothing changes and Landlock alone applies.
    """
    flags = (0 if network else CLONE_NEWNET) | (CLONE_NEWNS if readonly else 0)
    if not flags:
        return []
    lib = _lib()
    uid, gid = os.geteuid(), os.getegid()
    if uid != 0:
        flags |= CLONE_NEWUSER
    if lib.unshare(flags) != 0:
        return []
    if uid != 0:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError:
            pass
    done = [] if network else ["net"]
    if readonly and _protect(lib, readonly):
        done.append("mount")
    return done


def _protect(lib, paths: list[str]) -> bool:  # noqa: ANN001
    if lib.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    ok = True
    for path in paths:
        raw = path.encode()
        try:
            kept = os.statvfs(path).f_flag
        except OSError:
            continue
        locked = 0
        for bit, flag in _LOCKED_FLAGS:
            if kept & bit:
                locked |= flag
        if lib.mount(raw, raw, None, MS_BIND | MS_REC, None) != 0:
            ok = False
            continue
        if lib.mount(None, raw, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked, None) != 0:
            ok = False
    return ok


# --------------------------------------------------------------------------- processes


def _children_map() -> dict[int, list[int]]:
    """ppid -> live (non-zombie) pids, read from /proc."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] in (b"Z", b"X"):
            continue
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    kids = _children_map()
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_descendants(grace: float) -> int:
    """SIGTERM every descendant, SIGKILL what is left after ``grace``; returns how many there were."""
    me = os.getpid()
    try:
        if os.waitpid(-1, os.WNOHANG) == (0, 0):
            pass  # children exist (still running)
        else:
            _reap()
    except ChildProcessError:
        return 0  # no child at all: as a subreaper, that means no descendant either
    first = descendants(me)
    if not first:
        _reap()
        return 0
    _signal_all(first, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap()
        if not descendants(me):
            break
        time.sleep(0.01)
    # Orphans of killed processes come back to us (subreaper): repeat until none is left.
    hard_stop = time.monotonic() + 10
    while (left := descendants(me)) and time.monotonic() < hard_stop:
        _signal_all(left, signal.SIGKILL)
        time.sleep(0.005)
        _reap()
    _reap()
    return len(first)


# --------------------------------------------------------------------------- main


def _fail(message: str, code: int) -> None:
    os.write(2, f"agentic-flow sandbox: {message}\n".encode(errors="replace"))
    os._exit(code)


def _child(policy: dict, ruleset: int | None, argv: list[str]) -> None:
    """In the forked child: isolate, restrict, exec. Never returns."""
    try:
        os.setsid()
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        lib = _lib()
        lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != policy["launcher"]:
            os._exit(1)
        if policy.get("namespaces", True):
            enter_namespaces(bool(policy.get("network", False)), list(policy.get("readonly", [])))
        if ruleset is not None:
            restrict_self(ruleset)
            os.close(ruleset)
        else:
            _check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        try:
            os.chdir(os.getcwd())  # re-enter the working folder through the new mounts
        except OSError:
            pass
    except SandboxSetupError as exc:
        _fail(f"{exc}; the command was not run", 126)
    except BaseException as exc:  # noqa: BLE001 - nothing may run unrestricted by accident
        _fail(f"setting up the sandbox failed: {exc!r}; the command was not run", 126)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        _fail(f"cannot run {argv[0]!r}: {exc.strerror or exc}", 127)


class _Stop(Exception):
    pass


def run(policy: dict, argv: list[str]) -> None:
    lib = _lib()
    grace = float(policy.get("grace", DEFAULT_GRACE))
    parent = policy.get("parent")
    lib.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        _fail("the process that started the sandbox is gone", 1)
    lib.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    policy["launcher"] = os.getpid()
    ruleset = None
    if policy.get("landlock", True):
        abi = landlock_abi()
        if abi < 1:
            _fail("Landlock is not available on this kernel; the command was not run", 126)
        try:
            ruleset = build_ruleset(policy, abi)
        except SandboxSetupError as exc:
            _fail(f"{exc}; the command was not run", 126)
    stopping: list[int] = []
    waiting = [True]

    def on_signal(signum: int, frame: object) -> None:
        if not stopping:
            stopping.append(signum)
            if waiting[0]:
                raise _Stop

    for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(handled, on_signal)
    child = os.fork()
    if child == 0:
        _child(policy, ruleset, argv)
    if ruleset is not None:
        os.close(ruleset)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # stderr is kept for the launcher's own notes
    os.close(null)
    status = None
    try:
        while status is None:
            pid, raw = os.waitpid(-1, 0)
            if pid == child:
                status = raw
    except _Stop:
        pass
    except ChildProcessError:
        pass
    waiting[0] = False
    if stopping:
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, signal.SIG_IGN)
        stop_descendants(grace)
        received = stopping[0]
        signal.signal(received, signal.SIG_DFL)
        os.kill(os.getpid(), received)
        os._exit(128 + received)
    left = stop_descendants(grace)
    if left:
        noun = "process" if left == 1 else "processes"
        os.write(2, f"[agentic-flow sandbox: stopped {left} background {noun} left running when the command "
                    "ended]\n".encode())
    assert status is not None
    if os.WIFSIGNALED(status):
        died_of = os.WTERMSIG(status)
        lib.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # re-raising must not dump the launcher's core
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, signal.SIG_DFL)
        os.kill(os.getpid(), died_of)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def probe() -> dict:
    """What this kernel lets the sandbox do (run in a forked child so nothing sticks)."""
    result = {"abi": landlock_abi(), "euid": os.geteuid(), "net_namespace": False, "mount_namespace": False}
    if not sys.platform.startswith("linux"):
        return result
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            done = enter_namespaces(False, ["/"])
        except BaseException:  # noqa: BLE001
            done = []
        os.write(write_fd, ",".join(done).encode())
        os._exit(0)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    done = b"".join(chunks).decode().split(",")
    result["net_namespace"] = "net" in done
    result["mount_namespace"] = "mount" in done
    return result


def encode_policy(policy: dict) -> str:
    """The compact argv form of a policy (same interpreter on both sides: marshal is stable)."""
    return marshal.dumps(policy).hex()


def decode_policy(text: str) -> dict:
    """A policy from its argv form: a JSON object, or :func:`encode_policy`'s hex."""
    if text.startswith("{"):
        import json  # lazy: only for hand-written policies

        return json.loads(text)
    return marshal.loads(bytes.fromhex(text))


def main(args: list[str]) -> None:
    if args == ["--probe"]:
        import json  # lazy: doctor's probe only

        sys.stdout.write(json.dumps(probe()) + "\n")
        return
    if len(args) < 2:
        _fail("usage: launcher.py POLICY COMMAND [ARGS...] | --probe", 2)
    try:
        policy = decode_policy(args[0])
    except (ValueError, EOFError, TypeError) as exc:
        _fail(f"the policy cannot be read: {exc}", 2)
    if not isinstance(policy, dict) or policy.get("v") != 1:
        _fail("unknown policy version; the command was not run", 2)
    run(policy, args[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
