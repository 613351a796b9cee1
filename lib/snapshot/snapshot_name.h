// Every snapshot file name and name prefix is made and parsed here, in k3s's format
// `<prefix>-<node>-<unix-seconds>[.zip]`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace snapd {

inline constexpr std::string_view kScheduledPrefix = "etcd-snapshot";
inline constexpr std::string_view kOnDemandPrefix = "on-demand";
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

}  // namespace snapd
