// Every snapshot file name and name prefix is made and parsed here, in k3s's format
// `<prefix>-<node>-<unix-seconds>[.zip]`, with our `.zst` and `.age` encodings after it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snapd {

inline constexpr std::string_view kScheduledPrefix = "etcd-snapshot";
inline constexpr std::string_view kOnDemandPrefix = "on-demand";
// SQLite (kine) snapshots get their own prefixes, so that neither k3s (which lists every file in
// its snapshot dir) nor a person takes one for an etcd snapshot.
inline constexpr std::string_view kSqliteScheduledPrefix = "sqlite-snapshot";
inline constexpr std::string_view kSqliteOnDemandPrefix = "sqlite-on-demand";
inline constexpr std::string_view kPartSuffix = ".part";

// `<prefix>-<node>-<unix_seconds>`, the name k3s gives an uncompressed snapshot.
std::string FormatSnapshotName(std::string_view prefix, std::string_view node,
                               int64_t unix_seconds);

// Throws Error::InvalidInput unless `name` is safe to use as a file name and an S3 key part:
// non-empty, at most 255 bytes, no '/', '\\', NUL or control characters, not starting with '.',
// not ending in ".part". `what` names the thing in the message ("snapshot name").
void ValidateSnapshotName(std::string_view name, std::string_view what = "snapshot name");

// Throws Error::InvalidInput unless `prefix` is usable as a name prefix: [A-Za-z0-9._-]+,
// not starting with '.' or '-'.
void ValidateNamePrefix(std::string_view prefix, std::string_view what = "name prefix");

// The unix time in the name: the digits after the last '-', once known suffixes (.zip, .zst,
// .age) are stripped. std::nullopt when the name carries none (k3s then uses the file time).
std::optional<int64_t> ParseSnapshotTime(std::string_view name);

// True when `name` was made with `prefix`: it starts with "<prefix>-". k3s matches the bare
// prefix, so "etcd-snapshot" would also claim "etcd-snapshotx-..."; the dash avoids that.
bool HasNamePrefix(std::string_view name, std::string_view prefix);

// True for names of snapshots compressed the k3s way (".zip").
bool IsZipName(std::string_view name);

// How a stored snapshot is encoded, as its file name says: `<name>[.zip|.zst][.age]`. The
// suffixes are the whole truth (files made by k3s, `zip` or `age -r` carry no record).
enum class Compression { kNone, kZip, kZstd };

struct SnapshotEncoding {
  Compression compression = Compression::kNone;
  bool encrypted = false;
};

// "none", "zip" or "zstd"; ParseCompression throws Error::InvalidInput for anything else.
std::string_view CompressionName(Compression compression);
Compression ParseCompression(std::string_view text);

// The stored (file or object) name of snapshot `name` with `encoding`.
std::string EncodedSnapshotName(std::string_view name, const SnapshotEncoding& encoding);
// The encoding a stored name says.
SnapshotEncoding EncodingOfName(std::string_view stored_name);
// The snapshot name without its encoding suffixes: the zip entry name, the restored file name.
std::string_view BaseSnapshotName(std::string_view stored_name);

// The age-encrypted server token saved beside snapshot `stored_name`, in its `.metadata`
// folder, where k3s neither lists nor prunes snapshots.
std::string TokenBackupName(std::string_view stored_name);
// The stored snapshot name a token backup belongs to, or "" when `name` is not one.
std::string_view SnapshotOfTokenBackup(std::string_view name);

// Increments (point-in-time recovery) are kept in the `.metadata` folder too, named
// `<snapshot>.<first>-<last>-<unix>.inc` with `.zst` and/or `.age` after it. A name is an
// increment's when it ends in `.inc`, `.inc.zst`, `.inc.age` or `.inc.zst.age` and is safe as a
// file name and key part (ValidateSnapshotName's rules: no '/', no leading '.').
bool IsIncrementName(std::string_view name);
// Throws Error::InvalidInput unless IsIncrementName(name).
void ValidateIncrementName(std::string_view name);
// The stored snapshot name increment `name` continues: what comes before
// `.<digits>-<digits>-<digits>.inc[.zst][.age]`; "" when `name` is not such a name. Exact: the
// increments of "x-17" are not those of "x-170".
std::string_view SnapshotOfIncrement(std::string_view name);

}  // namespace snapd
