// Snapshot names in k3s's format.
#include "snapshot/snapshot_name.h"

#include <charconv>

#include "core/error.h"

namespace snapd {
namespace {

constexpr std::string_view kZipSuffix = ".zip";
constexpr std::string_view kZstdSuffix = ".zst";
constexpr std::string_view kAgeSuffix = ".age";
constexpr std::string_view kTokenBackupSuffix = ".token.age";
constexpr std::string_view kKnownSuffixes[] = {kAgeSuffix, kZstdSuffix, kZipSuffix};
constexpr std::string_view kIncrementSuffix = ".inc";

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string FormatSnapshotName(std::string_view prefix, std::string_view node,
                               int64_t unix_seconds) {
  std::string name;
  name.reserve(prefix.size() + node.size() + 24);
  name.append(prefix).append("-").append(node).append("-").append(std::to_string(unix_seconds));
  return name;
}

void ValidateSnapshotName(std::string_view name, std::string_view what) {
  auto fail = [&](std::string_view why) {
    throw Error::InvalidInput(std::string(what) + " " + Quote(name) + ": " + std::string(why));
  };
  if (name.empty()) fail("must not be empty");
  if (name.size() > 255) fail("longer than 255 bytes");
  if (name.front() == '.') fail("must not start with '.'");
  if (name.ends_with(kPartSuffix)) fail("names ending in .part are incomplete snapshots");
  for (char c : name) {
    if (c == '/' || c == '\\') fail("must not contain a path separator");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      fail("must not contain control characters");
  }
}

void ValidateNamePrefix(std::string_view prefix, std::string_view what) {
  auto fail = [&](std::string_view why) {
    throw Error::InvalidInput(std::string(what) + " " + Quote(prefix) + ": " + std::string(why));
  };
  if (prefix.empty()) fail("must not be empty");
  if (prefix.size() > 200) fail("longer than 200 bytes");
  if (prefix.front() == '.' || prefix.front() == '-') fail("must start with a letter or digit");
  for (char c : prefix) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) fail("may contain only letters, digits, '.', '_' and '-'");
  }
}

std::optional<int64_t> ParseSnapshotTime(std::string_view name) {
  bool stripped = true;
  while (stripped) {
    stripped = false;
    for (std::string_view suffix : kKnownSuffixes) {
      if (name.ends_with(suffix)) {
        name.remove_suffix(suffix.size());
        stripped = true;
      }
    }
  }
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view digits = name.substr(dash + 1);
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

bool HasNamePrefix(std::string_view name, std::string_view prefix) {
  return name.size() > prefix.size() && name.starts_with(prefix) && name[prefix.size()] == '-';
}

bool IsZipName(std::string_view name) {
  return EncodingOfName(name).compression == Compression::kZip;
}

std::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kZip:
      return "zip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kNone:
      break;
  }
  return "none";
}

Compression ParseCompression(std::string_view text) {
  if (text == "none" || text.empty()) return Compression::kNone;
  if (text == "zip") return Compression::kZip;
  if (text == "zstd") return Compression::kZstd;
  throw Error::InvalidInput("compression " + Quote(text) + ": expected none, zip or zstd");
}

std::string EncodedSnapshotName(std::string_view name, const SnapshotEncoding& encoding) {
  std::string stored(name);
  if (encoding.compression == Compression::kZip) stored += kZipSuffix;
  if (encoding.compression == Compression::kZstd) stored += kZstdSuffix;
  if (encoding.encrypted) stored += kAgeSuffix;
  return stored;
}

SnapshotEncoding EncodingOfName(std::string_view stored_name) {
  SnapshotEncoding encoding;
  if (stored_name.ends_with(kAgeSuffix)) {
    encoding.encrypted = true;
    stored_name.remove_suffix(kAgeSuffix.size());
  }
  if (stored_name.ends_with(kZipSuffix)) encoding.compression = Compression::kZip;
  if (stored_name.ends_with(kZstdSuffix)) encoding.compression = Compression::kZstd;
  return encoding;
}

std::string_view BaseSnapshotName(std::string_view stored_name) {
  if (stored_name.ends_with(kAgeSuffix)) stored_name.remove_suffix(kAgeSuffix.size());
  if (stored_name.ends_with(kZipSuffix) || stored_name.ends_with(kZstdSuffix)) {
    stored_name.remove_suffix(4);
  }
  return stored_name;
}

std::string TokenBackupName(std::string_view stored_name) {
  return std::string(stored_name) + std::string(kTokenBackupSuffix);
}

std::string_view SnapshotOfTokenBackup(std::string_view name) {
  if (!name.ends_with(kTokenBackupSuffix) || name.size() == kTokenBackupSuffix.size()) return {};
  name.remove_suffix(kTokenBackupSuffix.size());
  return name;
}

namespace {

// `name` without its `.inc[.zst][.age]` ending; nullopt when it has none.
std::optional<std::string_view> StripIncrementSuffix(std::string_view name) {
  if (name.ends_with(kAgeSuffix)) name.remove_suffix(kAgeSuffix.size());
  if (name.ends_with(kZstdSuffix)) name.remove_suffix(kZstdSuffix.size());
  if (!name.ends_with(kIncrementSuffix)) return std::nullopt;
  name.remove_suffix(kIncrementSuffix.size());
  return name;
}

bool IsDigits(std::string_view text) {
  return !text.empty() && text.size() <= 18 &&
         text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

bool IsIncrementName(std::string_view name) {
  // The suffix first: listings ask this of every record, and throwing for each would be slow.
  if (!StripIncrementSuffix(name)) return false;
  try {
    ValidateIncrementName(name);
    return true;
  } catch (const Error&) {
    return false;
  }
}

void ValidateIncrementName(std::string_view name) {
  ValidateSnapshotName(name, "increment name");
  if (!StripIncrementSuffix(name)) {
    throw Error::InvalidInput("increment name " + Quote(name) +
                              ": must end in .inc, .inc.zst, .inc.age or .inc.zst.age");
  }
}

std::string_view SnapshotOfIncrement(std::string_view name) {
  if (!IsIncrementName(name)) return {};
  std::string_view rest = *StripIncrementSuffix(name);
  const size_t dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  std::string_view window = rest.substr(dot + 1);  // <first>-<last>-<unix>
  const size_t dash1 = window.find('-');
  const size_t dash2 = dash1 == std::string_view::npos ? dash1 : window.find('-', dash1 + 1);
  if (dash2 == std::string_view::npos || !IsDigits(window.substr(0, dash1)) ||
      !IsDigits(window.substr(dash1 + 1, dash2 - dash1 - 1)) ||
      !IsDigits(window.substr(dash2 + 1))) {
    return {};
  }
  return rest.substr(0, dot);
}

}  // namespace snapd
