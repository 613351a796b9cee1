// Fuzzes the age decrypter (restore and verify of encrypted snapshots, token backups) with the
// unit tests' identity, so files made for it get past the header into the payload: errors are
// snapd::Error, and streaming, piecewise and one-shot decryption agree.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "decoder_outcome.h"
#include "pipeline/age_decrypt_source.h"
#include "pipeline/age_keys.h"

using snapd::fuzz::Check;

namespace {

// tests/unit/data/age/identity.txt, which encrypted the seed corpus (a test key, not a secret).
constexpr std::string_view kIdentity =
    "AGE-SECRET-KEY-1WXJR6H34Z00F26TQHL5RVTWNA24SH77QFZEYQ0EC39584J93056S5L280G";

const std::vector<snapd::AgeIdentity>& Identities() {
  static const std::vector<snapd::AgeIdentity> identities = {snapd::ParseAgeIdentity(kIdentity)};
  return identities;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file = snapd::fuzz::AsText(data, size);
  auto make = [](snapd::ByteSource& source) {
    return std::make_unique<snapd::AgeDecryptSource>(source, Identities());
  };
  const auto whole = snapd::fuzz::DecodeAll(file, file.size() + 1, 64 << 10, make);
  const auto pieces = snapd::fuzz::DecodeAll(file, snapd::fuzz::PieceSizeFor(file), 4099, make);
  snapd::fuzz::CheckSameOutcome(whole, pieces);
  // age only removes: the plaintext is shorter than the file.
  Check(whole.bytes.size() < file.size() || whole.bytes.empty(), "plaintext is shorter");
  if (whole.error) {
    Check(*whole.error == snapd::ErrorKind::kCorrupt ||
              *whole.error == snapd::ErrorKind::kInvalidInput,
          "a bad age file is corrupt, or not for our identity");
  }

  std::optional<std::string> one_shot;
  try {
    one_shot = snapd::AgeDecrypt(file, Identities());
  } catch (const snapd::Error&) {
  }
  Check(one_shot.has_value() == whole.complete, "one-shot and streaming agree on failing");
  if (one_shot) Check(*one_shot == whole.bytes, "one-shot and streaming decrypt the same");
  return 0;
}
