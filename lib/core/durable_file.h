// Small files that must survive a crash: written to a temporary name, fsynced, renamed over
// the final name and the directory fsynced (leveldb's SetCurrentFile), and read back whole.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace snapd {

// Writes `body` to `dir`/`name` (0600) durably via `dir`/.`name`.tmp, replacing any older file.
// Nothing of the temporary file is left when it fails. Throws naming the path.
void WriteFileDurably(const std::string& dir, const std::string& name, std::string_view body);

// Makes `dir` and any missing parent (0700), each new entry durable; `on_create` hears of each
// directory just before it is made. Throws naming the path, also when it exists and is not a
// directory.
void MakePrivateDirectories(const std::string& dir,
                            const std::function<void(const std::string&)>& on_create = {});

// True for the temporary names WriteFileDurably uses (".NAME.tmp"): a crash can leave one.
bool IsDurableTempName(std::string_view name);

// Reads the regular file at `path` (never through a symlink) into `out`, up to `limit` bytes.
// False, with errno set, when it cannot be opened.
bool ReadSmallFile(const std::string& path, std::string& out, size_t limit = 1 << 20);

}  // namespace snapd
