// Fuzzes increment files and names as they come back from a store: never a crash or another
// exception than Error::Corrupt, and whatever decodes or parses writes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "fuzz_input.h"
#include "incremental/increment_chain.h"
#include "incremental/increment_format.h"

using snapd::fuzz::Check;

namespace {

void Decodes(std::string_view bytes) {
  snapd::Increment increment;
  try {
    increment = snapd::DecodeIncrement(bytes);
  } catch (const snapd::Error& e) {
    Check(e.kind() == snapd::ErrorKind::kCorrupt, "bad increments are corrupt");
    return;
  }
  Check(snapd::EncodeIncrement(increment) == bytes, "a decoded increment encodes to its bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = snapd::fuzz::AsText(data, size);
  Decodes(input);
  // The fuzzer cannot forge a SHA-256: the input with its hash appended reaches the rules.
  const snapd::Sha256Digest digest = snapd::Sha256::Of(input);
  Decodes(std::string(input) + std::string(reinterpret_cast<const char*>(digest.data()), 32));

  // Each line a name: a parsed one formats back to itself; the chain of the first one's base
  // continues it without a gap.
  std::vector<snapd::IncrementName> names;
  std::string_view rest = input;
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    const std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    snapd::IncrementName name;
    if (!snapd::ParseIncrementName(line, name)) continue;
    Check(snapd::FormatIncrementName(name) == line, "a parsed name formats back to itself");
    Check(name.first_revision >= 1 && name.last_revision >= name.first_revision,
          "a parsed name's range is not empty");
    names.push_back(name);
  }
  if (names.empty()) return 0;
  const int64_t base_revision = names[0].first_revision - 1;
  const snapd::ChainWindow window = snapd::ContiguousChain(names[0].base, base_revision, 0, names);
  int64_t next = base_revision + 1;
  for (const snapd::IncrementName& name : window.increments) {
    Check(name.base == names[0].base && name.first_revision == next, "the chain has no gap");
    next = name.last_revision + 1;
  }
  Check(window.last_revision == next - 1, "the window ends where the chain does");
  return 0;
}
