#!/usr/bin/env python3
# Checks an `strace -f -y` log of k3s-snapd against the sandbox its systemd unit sets up, so a
# hardening setting that would break the daemon fails a test instead of a production start.
"""Usage: check_trace.py UNIT TRACE --map REAL=TEST... [--test-dir DIR] [--cwd DIR]

Reads SystemCallFilter=, RestrictAddressFamilies=, MemoryDenyWriteExecute=, RestrictNamespaces=,
ReadWritePaths=, RuntimeDirectory=, StateDirectory=, PrivateTmp=, ProtectHome=, ProcSubset= and
PrivateDevices=
from UNIT and reports every traced call the sandbox would refuse or change:
  - a system call outside the filter;
  - a socket of another address family;
  - memory mapped writable and executable, or made executable by mprotect;
  - a new namespace;
  - a write (create, open for writing, mkdir, rename, unlink, chmod, bind of a UNIX socket...)
    outside the writable paths (a mkdir answered EEXIST is fine: the kernel says so first);
  - a successful access to what the sandbox hides: /home, /root, /run/user; /proc files other
    than process directories; devices other than the pseudo devices.
REAL=TEST maps a path of the unit (e.g. /var/lib/rancher/k3s) to where the test put it.
Exit status 0 when nothing is reported, 1 otherwise.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

PSEUDO_DEVICES = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                  "/dev/tty", "/dev/ptmx", "/dev/stdin", "/dev/stdout", "/dev/stderr"}
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
# name -> indexes of (dirfd, path) argument pairs it writes; dirfd None: the path alone.
# Read where present, with a fallback when missing: glibc's malloc asks whether to shrink
# thread heaps and keeps its default when it cannot tell.
HARMLESS_WHEN_HIDDEN = {"/proc/sys/vm/overcommit_memory"}
PATH_WRITES = {
    "open": [(None, 0)], "creat": [(None, 0)], "openat": [(0, 1)], "openat2": [(0, 1)],
    "mkdir": [(None, 0)], "mkdirat": [(0, 1)], "rmdir": [(None, 0)],
    "unlink": [(None, 0)], "unlinkat": [(0, 1)],
    "rename": [(None, 0), (None, 1)], "renameat": [(0, 1), (2, 3)],
    "renameat2": [(0, 1), (2, 3)],
    "link": [(None, 1)], "linkat": [(2, 3)], "symlink": [(None, 1)], "symlinkat": [(1, 2)],
    "chmod": [(None, 0)], "fchmodat": [(0, 1)], "chown": [(None, 0)], "lchown": [(None, 0)],
    "fchownat": [(0, 1)], "truncate": [(None, 0)], "mknod": [(None, 0)], "mknodat": [(0, 1)],
    "utimensat": [(0, 1)], "setxattr": [(None, 0)], "lsetxattr": [(None, 0)],
}
FD_WRITES = {"fchmod", "fchown", "ftruncate", "fsetxattr", "fallocate"}
# Calls whose success means the path was reachable.
PATH_READS = {"open": 0, "openat": 1, "openat2": 1, "stat": 0, "lstat": 0, "newfstatat": 1,
              "statx": 1, "access": 0, "faccessat": 1, "faccessat2": 1, "readlink": 0,
              "readlinkat": 1, "execve": 0}


def unit_settings(path):
    settings = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith(("#", ";", "[")):
                key, value = line.split("=", 1)
                settings[key.strip()].append(value.strip())
    return settings


def filter_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif current is not None and line.strip() and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(names, groups, seen=None):
    seen = set() if seen is None else seen
    result = set()
    for name in names:
        if name.startswith("@"):
            if name in seen:
                continue
            seen.add(name)
            if name not in groups:
                raise SystemExit(f"check_trace: unknown system call group {name}")
            result |= expand(groups[name], groups, seen)
        else:
            result.add(name)
    return result


def allowed_syscalls(values, groups):
    """systemd's rule: the first assignment picks allow- or deny-list; later ones add or drop."""
    allowed, denied = None, None
    for value in values:
        invert = value.startswith("~")
        names = expand(value.lstrip("~").split(), groups)
        if allowed is None and denied is None:
            if invert:
                denied = names
            else:
                allowed = names
        elif allowed is not None:
            allowed = allowed - names if invert else allowed | names
        else:
            denied = denied | names if invert else denied - names
    # Always allowed, whatever the filter says.
    return allowed, denied or set(), expand(["@default"], groups)


def split_args(text):
    """Top-level comma-separated arguments of a traced call, keeping strings and fd paths."""
    args, depth, current, i = [], 0, [], 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            current.append(text[i:j + 1])
            i = j + 1
            continue
        if c == "<" and current and "".join(current).strip().isdigit():
            j = text.find(">", i)
            current.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    if "".join(current).strip():
        args.append("".join(current).strip())
    return args


def unquote(arg):
    if not (arg.startswith('"') and arg.endswith('"')):
        return None
    return arg[1:-1].encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def fd_path(arg):
    match = re.match(r"^-?\d+<(.*)>$", arg)
    return match.group(1) if match else None


def resolve(dirfd_arg, path_arg, cwd):
    path = unquote(path_arg)
    if path is None:
        return None
    if path.startswith("/"):
        return os.path.normpath(path)
    # Relative to the working directory, which is / under systemd, not the traced one.
    at_cwd = dirfd_arg is None or dirfd_arg.startswith("AT_FDCWD")
    base = cwd if at_cwd else fd_path(dirfd_arg)
    if base is None:
        return None
    return os.path.normpath(os.path.join(base, path)) if path else base


def under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def calls(trace_path):
    """(pid, name, args text, result text) of each traced call, unfinished ones joined."""
    pending = {}
    line_re = re.compile(r"^(\d+) +(.*)$")
    with open(trace_path, errors="replace") as f:
        for raw in f:
            match = line_re.match(raw.rstrip("\n"))
            if not match:
                continue
            pid, rest = match.groups()
            if rest.startswith(("---", "+++")):
                continue
            resumed = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", rest)
            if resumed:
                name, tail = resumed.groups()
                start = pending.pop(pid, (name, ""))
                rest = f"{name}({start[1]}{tail}"
            call = re.match(r"^(\w+)\((.*)$", rest)
            if not call:
                continue
            name, body = call.groups()
            if body.endswith("<unfinished ...>"):
                pending[pid] = (name, body[: -len("<unfinished ...>")].rstrip())
                continue
            finished = re.match(r"^(.*)\)\s+= (.*)$", body)
            if finished:
                yield pid, name, finished.group(1), finished.group(2)


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("unit")
    parser.add_argument("trace")
    parser.add_argument("--map", action="append", default=[])
    parser.add_argument("--test-dir", default=None)
    parser.add_argument("--cwd", default="/")
    options = parser.parse_args()

    unit = unit_settings(options.unit)
    mapping = [m.split("=", 1) for m in options.map]

    def to_test(path):
        for real, test in mapping:
            if under(path, real):
                return test + path[len(real):]
        return path

    groups = filter_groups()
    allowed, denied, always = allowed_syscalls(unit.get("SystemCallFilter", []), groups)
    families = set()
    for value in unit.get("RestrictAddressFamilies", []):
        families |= set(value.split())
    writable = [to_test(p.lstrip("-")) for v in unit.get("ReadWritePaths", []) for p in v.split()]
    writable += [to_test("/run/" + d) for v in unit.get("RuntimeDirectory", []) for d in v.split()]
    writable += [to_test("/var/lib/" + d) for v in unit.get("StateDirectory", []) for d in v.split()]
    private_tmp = unit.get("PrivateTmp", ["no"])[-1] in ("yes", "true", "1")
    mdwe = unit.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1")
    no_namespaces = unit.get("RestrictNamespaces", ["no"])[-1] in ("yes", "true", "1")
    protect_home = unit.get("ProtectHome", ["no"])[-1] in ("yes", "true", "1", "tmpfs")
    proc_pid_only = unit.get("ProcSubset", ["all"])[-1] == "pid"
    private_devices = unit.get("PrivateDevices", ["no"])[-1] in ("yes", "true", "1")

    def may_write(path):
        if any(under(path, root) for root in writable) or path in PSEUDO_DEVICES:
            return True
        in_test_dir = options.test_dir and under(path, options.test_dir)
        return private_tmp and not in_test_dir and (under(path, "/tmp") or
                                                    under(path, "/var/tmp"))

    problems = collections.Counter()
    seen = collections.Counter()
    for pid, name, body, result in calls(options.trace):
        seen[name] += 1
        failed = result.startswith("-1 ")
        args = split_args(body)
        if allowed is not None and name not in allowed and name not in always:
            problems[f"system call {name} is not in SystemCallFilter"] += 1
        if denied and name in denied and name not in always:
            problems[f"system call {name} is denied by SystemCallFilter"] += 1
        if families and name in ("socket", "socketpair") and args:
            family = args[0].replace("PF_", "AF_").replace("AF_LOCAL", "AF_UNIX")
            if family not in families:
                problems[f"{name}({family}) is outside RestrictAddressFamilies"] += 1
        if mdwe and name in ("mmap", "mmap2") and len(args) > 2:
            if "PROT_WRITE" in args[2] and "PROT_EXEC" in args[2]:
                problems[f"{name} writable and executable (MemoryDenyWriteExecute)"] += 1
        if mdwe and name in ("mprotect", "pkey_mprotect") and len(args) > 2:
            if "PROT_EXEC" in args[2]:
                problems[f"{name} with PROT_EXEC (MemoryDenyWriteExecute)"] += 1
        if no_namespaces and (name in ("unshare", "setns") or
                              (name.startswith("clone") and "CLONE_NEW" in body)):
            problems[f"{name} makes a namespace (RestrictNamespaces)"] += 1

        # Writes.
        targets = []
        if name in PATH_WRITES:
            flags_at = {"open": 1, "openat": 2, "openat2": 2}.get(name)
            is_write = flags_at is None or (len(args) > flags_at and
                                            any(f in args[flags_at] for f in WRITE_FLAGS))
            if is_write:
                for dirfd_at, path_at in PATH_WRITES[name]:
                    if path_at < len(args):
                        dirfd = args[dirfd_at] if dirfd_at is not None else None
                        targets.append(resolve(dirfd, args[path_at], options.cwd))
        elif name in FD_WRITES and args:
            targets.append(fd_path(args[0]))
        elif name == "bind" and len(args) > 1 and "AF_UNIX" in args[1]:
            match = re.search(r'sun_path=("(?:[^"\\]|\\.)*")', args[1])
            if match:
                targets.append(resolve(None, match.group(1), options.cwd))
        for target in targets:
            # Not a file system path (a socket's own inode, say): no mount makes it read-only.
            if target is None or not target.startswith("/") or may_write(target):
                continue
            if failed and "EEXIST" in result:
                continue
            problems[f"{name} writes {target}, outside ReadWritePaths (ProtectSystem=strict)"] += 1

        # Reads of what the sandbox hides, when they worked here.
        if failed or name not in PATH_READS or PATH_READS[name] >= len(args):
            continue
        dirfd = args[PATH_READS[name] - 1] if PATH_READS[name] > 0 else None
        path = resolve(dirfd, args[PATH_READS[name]], options.cwd)
        if path is None or path in HARMLESS_WHEN_HIDDEN:
            continue
        if protect_home and any(under(path, p) for p in ("/home", "/root", "/run/user")):
            problems[f"{name} reads {path}, hidden by ProtectHome"] += 1
        if proc_pid_only and under(path, "/proc") and path != "/proc":
            if not re.match(r"^/proc/(self|thread-self|\d+)(/|$)", path):
                problems[f"{name} reads {path}, hidden by ProcSubset=pid"] += 1
        if private_devices and under(path, "/dev") and path != "/dev":
            if path not in PSEUDO_DEVICES and not under(path, "/dev/pts") and \
                    not under(path, "/dev/shm"):
                problems[f"{name} opens {path}, hidden by PrivateDevices"] += 1

    print(f"check_trace: {sum(seen.values())} calls of {len(seen)} kinds: " +
          " ".join(f"{n}:{c}" for n, c in sorted(seen.items())))
    for problem, count in sorted(problems.items()):
        print(f"PROBLEM ({count}x): {problem}")
    if not seen:
        print("check_trace: the trace holds no calls")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
