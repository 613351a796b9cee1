// Fuzzes snapshot names as they come from directory listings, S3 keys and API requests: the
// validators, the time and encoding a name carries, and the round trips between those.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "fuzz_input.h"
#include "snapshot/snapshot_name.h"

using snapd::fuzz::Check;

namespace {

bool Validates(std::string_view name) {
  try {
    snapd::ValidateSnapshotName(name);
    return true;
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "names are refused as invalid input");
    return false;
  }
}

bool PrefixValidates(std::string_view prefix) {
  try {
    snapd::ValidateNamePrefix(prefix);
    return true;
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "prefixes are refused as invalid input");
    return false;
  }
}

// The name's parts as the save path makes them: "<prefix>\n<node>\n..." in the input.
std::string_view Field(std::string_view text, size_t index) {
  for (size_t i = 0; i < index; ++i) {
    const size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return {};
    text.remove_prefix(newline + 1);
  }
  return text.substr(0, text.find('\n'));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view name = snapd::fuzz::AsText(data, size);
  const bool valid = Validates(name);
  PrefixValidates(name);
  (void)snapd::ParseSnapshotTime(name);
  (void)snapd::IsZipName(name);

  // A stored name is its base name plus the suffixes its encoding says, exactly.
  const snapd::SnapshotEncoding encoding = snapd::EncodingOfName(name);
  const std::string_view base = snapd::BaseSnapshotName(name);
  Check(snapd::EncodedSnapshotName(base, encoding) == name, "base + encoding rebuilds the name");
  Check(snapd::IsZipName(name) == (encoding.compression == snapd::Compression::kZip),
        "IsZipName agrees with EncodingOfName");

  // A token backup name leads back to its snapshot.
  if (valid)
    Check(snapd::SnapshotOfTokenBackup(snapd::TokenBackupName(name)) == name,
          "the token backup of a name leads back to it");

  // Compression names round trip; anything else is invalid input.
  try {
    const snapd::Compression compression = snapd::ParseCompression(name);
    Check(name.empty() || snapd::CompressionName(compression) == name,
          "a parsed compression has that name");
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kInvalidInput, "bad compression is invalid input");
  }

  // A name made from a valid prefix and node carries its time and its prefix.
  const std::string_view prefix = Field(name, 0);
  const std::string_view node = Field(name, 1);
  if (PrefixValidates(prefix) && !node.empty() && Validates(node)) {
    const int64_t when = static_cast<int64_t>(size) * 1000003 + (size > 0 ? data[0] : 0);
    const std::string made = snapd::FormatSnapshotName(prefix, node, when);
    if (Validates(made)) {
      Check(snapd::ParseSnapshotTime(made) == when, "a made name carries its time");
      Check(snapd::HasNamePrefix(made, prefix), "a made name has its prefix");
      const snapd::SnapshotEncoding zipped{snapd::Compression::kZip, true};
      const std::string stored = snapd::EncodedSnapshotName(made, zipped);
      Check(snapd::ParseSnapshotTime(stored) == when, "encoding suffixes keep the time");
      Check(snapd::BaseSnapshotName(stored) == made, "the base of an encoded name is the name");
    }
  }
  return 0;
}
