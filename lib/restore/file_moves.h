// The filesystem steps a restore is made of: durable renames that never replace anything, the
// removal of a directory the restore itself made, and durable private files. Each step is
// reported through a log callback before it happens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace snapd {

using StepLog = std::function<void(const std::string& step)>;

// lstat(): true for anything at `path`, a dangling symlink included.
bool PathExists(const std::string& path);
// stat(): true for a directory or a symlink to one.
bool IsDirectory(const std::string& path);
// "/a/b/c" -> "/a/b"; "/a" -> "/"; "a" -> ".".
std::string ParentOf(const std::string& path);
std::string BaseNameOf(const std::string& path);

// Throws Error::Conflict naming `path` when something is there.
void RequireAbsent(const std::string& path);

// Logs "moving FROM to TO", renames with RENAME_NOREPLACE (or, where the filesystem lacks it, a
// check then rename(2)) and fsyncs the parent directories. Throws Error::Conflict naming `to`
// when it exists; never copies (different filesystems are an error).
void MoveNoReplace(const std::string& from, const std::string& to, const StepLog& log);

// Logs "removing ...", then removes `path` and everything under it, never following symlinks
// and never crossing into another filesystem. Only for directories the restore made itself:
// `path` must end in `required_suffix` (e.g. ".restoring-1700000000"), else it throws.
void RemoveDirectoryWeMade(const std::string& path, const std::string& required_suffix,
                           const StepLog& log);

// Logs "writing ...", then creates `path` (must not exist, never through a symlink) with mode
// 0600, writes `content`, fsyncs it and its directory. `content` is never logged.
void WritePrivateFileDurably(const std::string& path, const std::string& content,
                             const StepLog& log);

// Directory entries of `dir` whose names start with `prefix` ("" for none when `dir` is absent).
std::vector<std::string> EntriesStartingWith(const std::string& dir, const std::string& prefix);

// The first executable named `program` in PATH, or "".
std::string FindInPath(const std::string& program);

}  // namespace snapd
