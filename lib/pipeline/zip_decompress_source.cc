// Streams the one entry of a snapshot zip out of libarchive's streaming zip reader, then checks
// the archive's end (central directory) against what was read, because the streaming reader
// stops at the directory and k3s restores through it.
#include "pipeline/zip_decompress_source.h"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <vector>

#include "core/error.h"
#include "pipeline/zip_central_directory.h"

namespace snapd {
namespace {

// Raw archive bytes are pulled in blocks of this size. The last two blocks are kept: the end
// of the archive (central directory) is checked from them after libarchive is done.
constexpr size_t kBlockSize = 256 * 1024;

// libarchive's streaming reader decides the data descriptor's width from the local header.
// Go's writer (k3s) puts no zip64 field there but writes 64-bit sizes into the descriptor
// once an entry reaches 4 GiB, which libarchive then misreads as a size mismatch. From this
// size on such a complaint is left to the central directory check (CRC and size).
constexpr uint64_t kZip64DescriptorThreshold = 0xF0000000;

}  // namespace

struct ZipDecompressSource::State {
  explicit State(ByteSource& source) : in(source) {}
  ~State() {
    if (archive != nullptr) archive_read_free(archive);
  }

  ByteSource& in;
  struct archive* archive = nullptr;
  std::exception_ptr source_error;  // thrown by `in` inside a libarchive callback
  std::exception_ptr error;         // the first error Read threw

  std::array<std::vector<char>, 2> blocks{std::vector<char>(kBlockSize),
                                          std::vector<char>(kBlockSize)};
  std::array<size_t, 2> block_length{0, 0};
  size_t current_block = 1;
  bool source_ended = false;
  uint64_t archive_bytes = 0;

  bool started = false;
  bool finished = false;
  std::string entry_name;
  const char* pending = nullptr;  // decoded bytes not yet handed out
  size_t pending_length = 0;
  uint64_t entry_bytes = 0;
  uint32_t entry_crc = 0;

  // Reads the next block of raw archive into the block libarchive is not using. Returns its
  // length; 0 at the end, leaving the last two blocks in place.
  size_t FillBlock() {
    if (source_ended) return 0;
    const size_t next = 1 - current_block;
    std::vector<char>& block = blocks[next];
    size_t length = 0;
    while (length < block.size()) {
      const size_t n = in.Read(block.data() + length, block.size() - length);
      if (n == 0) {
        source_ended = true;
        break;
      }
      length += n;
    }
    if (length == 0) return 0;
    current_block = next;
    block_length[next] = length;
    archive_bytes += length;
    return length;
  }

  static la_ssize_t ReadCallback(struct archive* a, void* client, const void** buffer) {
    auto* state = static_cast<State*>(client);
    try {
      const size_t length = state->FillBlock();
      *buffer = state->blocks[state->current_block].data();
      return static_cast<la_ssize_t>(length);
    } catch (...) {
      // Nothing may unwind through libarchive's C frames: keep the error for Read to rethrow.
      state->source_error = std::current_exception();
      archive_set_error(a, EIO, "reading the archive failed");
      return -1;
    }
  }

  void RethrowSourceError() {
    if (source_error) std::rethrow_exception(source_error);
  }

  const char* ErrorText() const {
    const char* text = archive_error_string(archive);
    return text != nullptr ? text : "unknown error";
  }

  // Throws for a libarchive status below `accepted`, preferring the source's own error.
  void Check(int status, int accepted, const std::string& what) {
    RethrowSourceError();
    if (status >= accepted) return;
    const std::string message = "zip: " + what + ": " + ErrorText();
    if (archive_errno(archive) == ENOMEM) throw Error::Permanent(message);
    throw Error::Corrupt(message);
  }

  void Start() {
    started = true;
    archive = archive_read_new();
    if (archive == nullptr) throw Error::Permanent("zip: cannot create libarchive reader");
    Check(archive_read_support_format_zip_streamable(archive), ARCHIVE_OK, "reader setup");
    Check(archive_read_open(archive, this, nullptr, &State::ReadCallback, nullptr), ARCHIVE_OK,
          "not a zip archive");
    struct archive_entry* entry = nullptr;
    const int status = archive_read_next_header(archive, &entry);
    RethrowSourceError();
    if (status == ARCHIVE_EOF) throw Error::Corrupt("zip: archive holds no entry");
    // A warning here is about the name's character set; names are checked below.
    Check(status, ARCHIVE_WARN, "reading the first entry header");
    const char* name = archive_entry_pathname(entry);
    if (name == nullptr || *name == '\0') throw Error::Corrupt("zip: entry has no name");
    if (archive_entry_filetype(entry) != AE_IFREG) {
      throw Error::Corrupt(std::string("zip: entry ") + name + " is not a regular file");
    }
    if (archive_entry_is_encrypted(entry)) {
      throw Error::Corrupt(std::string("zip: entry ") + name + " is encrypted");
    }
    entry_name = name;
  }

  // Fetches the next decoded block into `pending`; false at the end of the entry.
  bool NextBlock() {
    const void* block = nullptr;
    size_t length = 0;
    la_int64_t offset = 0;
    const int status = archive_read_data_block(archive, &block, &length, &offset);
    RethrowSourceError();
    if (status == ARCHIVE_EOF) return false;
    if (status == ARCHIVE_WARN && entry_bytes + length >= kZip64DescriptorThreshold) {
      // Possibly Go's 64-bit descriptor (see kZip64DescriptorThreshold): FinishArchive checks
      // the CRC and size against the central directory instead.
    } else if (status == ARCHIVE_WARN && std::strstr(ErrorText(), "CRC") != nullptr) {
      throw Error::Corrupt("zip: CRC mismatch in entry " + entry_name);
    } else {
      Check(status, ARCHIVE_OK, "entry " + entry_name + " is corrupt or truncated");
    }
    if (offset < 0 || static_cast<uint64_t>(offset) != entry_bytes) {
      throw Error::Corrupt("zip: entry " + entry_name + " has a gap in its data");
    }
    pending = static_cast<const char*>(block);
    pending_length = length;
    // zlib's crc32 with a null buffer (libarchive's empty blocks) returns the initial value.
    if (length > 0) {
      entry_crc = static_cast<uint32_t>(
          ::crc32(entry_crc, reinterpret_cast<const Bytef*>(block), static_cast<uInt>(length)));
    }
    entry_bytes += length;
    return true;
  }

  size_t ReadSome(char* buffer, size_t size) {
    if (!started) Start();
    while (pending_length == 0) {
      if (finished) return 0;
      if (!NextBlock()) {
        FinishArchive();
        return 0;
      }
    }
    const size_t n = std::min(size, pending_length);
    std::memcpy(buffer, pending, n);
    pending += n;
    pending_length -= n;
    return n;
  }

  // After the entry's data: no second entry, and a central directory that agrees.
  void FinishArchive() {
    finished = true;
    struct archive_entry* entry = nullptr;
    const int status = archive_read_next_header(archive, &entry);
    RethrowSourceError();
    if (status == ARCHIVE_OK || status == ARCHIVE_WARN) {
      const char* name = archive_entry_pathname(entry);
      throw Error::Corrupt("zip: archive holds more than one entry (" + entry_name + ", " +
                           (name ? name : "?") + ")");
    }
    if (status != ARCHIVE_EOF) Check(status, ARCHIVE_OK, "after entry " + entry_name);
    while (FillBlock() > 0) {
    }
    std::string tail;
    tail.reserve(block_length[0] + block_length[1]);
    const size_t previous = 1 - current_block;
    tail.append(blocks[previous].data(), block_length[previous]);
    tail.append(blocks[current_block].data(), block_length[current_block]);
    const ZipCentralEntry central = ReadSingleCentralEntry(tail, archive_bytes);
    if (central.name != entry_name) {
      throw Error::Corrupt("zip: central directory names the entry " + central.name +
                           ", local header " + entry_name);
    }
    if (central.local_header_offset != 0) {
      throw Error::Corrupt("zip: central directory puts entry " + entry_name + " at offset " +
                           std::to_string(central.local_header_offset) + ", not 0");
    }
    if (central.crc32 != entry_crc) {
      throw Error::Corrupt("zip: CRC mismatch in entry " + entry_name);
    }
    if (central.uncompressed_size != entry_bytes) {
      throw Error::Corrupt("zip: entry " + entry_name + " is " + std::to_string(entry_bytes) +
                           " bytes, central directory says " +
                           std::to_string(central.uncompressed_size));
    }
  }
};

ZipDecompressSource::ZipDecompressSource(ByteSource& in) : state_(std::make_unique<State>(in)) {}

ZipDecompressSource::~ZipDecompressSource() = default;

size_t ZipDecompressSource::Read(char* buffer, size_t size) {
  State& s = *state_;
  // libarchive cannot go on after an error: every later Read repeats the first error.
  if (s.error) std::rethrow_exception(s.error);
  try {
    return s.ReadSome(buffer, size);
  } catch (...) {
    s.error = std::current_exception();
    throw;
  }
}

const std::string& ZipDecompressSource::entry_name() const {
  return state_->entry_name;
}

}  // namespace snapd
