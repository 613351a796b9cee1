// libarchive writes the zip; this passes its output on to the next sink. The entry has no size
// set, so libarchive streams it: Deflate, sizes and CRC in a data descriptor, zip64 fields
// ready for snapshots over 4 GiB.
#include "pipeline/zip_compress_sink.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <exception>

#include "core/error.h"

namespace snapd {
namespace {

// libarchive hands its output on in blocks of this size; the last one is not padded.
constexpr int kOutputBlockSize = 64 * 1024;
// libarchive feeds each write to zlib as one 32-bit length: keep calls well below that.
constexpr size_t kMaxWriteCall = 16 * 1024 * 1024;

}  // namespace

struct ZipCompressSink::State {
  explicit State(ByteSink& sink) : out(sink) {}
  ~State() {
    if (archive == nullptr) return;
    // Abandoned (or done): nothing more may reach the sink. Freeing closes the archive if
    // Finish did not; that output is dropped. (archive_write_fail would skip the close, but
    // libarchive 3.6 then leaks the entry's zlib state.)
    discard_output = true;
    archive_write_free(archive);
  }

  ByteSink& out;
  struct archive* archive = nullptr;
  std::exception_ptr sink_error;  // thrown by `out` inside a libarchive callback
  bool discard_output = false;
  bool finished = false;
  bool failed = false;

  static la_ssize_t WriteCallback(struct archive*, void* client, const void* buffer,
                                  size_t length) {
    auto* state = static_cast<State*>(client);
    if (state->discard_output || state->sink_error) return static_cast<la_ssize_t>(length);
    try {
      state->out.Write(std::string_view(static_cast<const char*>(buffer), length));
    } catch (...) {
      // Nothing may unwind through libarchive's C frames: keep the error for the caller, and
      // drop the rest. libarchive is told all went well because its own error paths leak
      // (3.6: an entry's zlib state is freed only when the entry finishes normally).
      state->sink_error = std::current_exception();
    }
    return static_cast<la_ssize_t>(length);
  }

  [[noreturn]] void Fail(const std::string& what) {
    failed = true;
    if (sink_error) std::rethrow_exception(sink_error);
    const char* detail = archive == nullptr ? nullptr : archive_error_string(archive);
    throw Error::Permanent("zip: " + what + ": " + (detail ? detail : "unknown error"));
  }

  void CheckUsable(const char* operation) {
    if (failed) throw Error::Permanent(std::string("zip: ") + operation + " after a failure");
    if (finished) throw Error::InvalidInput(std::string("zip: ") + operation + " after Finish");
  }
};

ZipCompressSink::ZipCompressSink(ByteSink& out, std::string entry_name, int64_t mtime_unix)
    : state_(std::make_unique<State>(out)) {
  if (entry_name.empty() || entry_name.find_first_of(std::string("/\0", 2)) != std::string::npos) {
    throw Error::InvalidInput("zip: entry name \"" + entry_name + "\" is empty or has / or NUL");
  }
  State& s = *state_;
  s.archive = archive_write_new();
  if (s.archive == nullptr) throw Error::Permanent("zip: cannot create libarchive writer");
  if (archive_write_set_format_zip(s.archive) != ARCHIVE_OK ||
      archive_write_zip_set_compression_deflate(s.archive) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(s.archive, kOutputBlockSize) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(s.archive, 1) != ARCHIVE_OK) {
    s.Fail("writer setup");
  }
  if (archive_write_open2(s.archive, &s, nullptr, &State::WriteCallback, nullptr, nullptr) !=
      ARCHIVE_OK) {
    s.Fail("opening the archive");
  }
  struct archive_entry* entry = archive_entry_new();
  if (entry == nullptr) s.Fail("creating the entry");
  archive_entry_set_pathname(entry, entry_name.c_str());
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_perm(entry, 0600);
  archive_entry_set_mtime(entry, static_cast<time_t>(mtime_unix), 0);
  // No size: libarchive then streams the entry (data descriptor) with zip64 enabled.
  const int status = archive_write_header(s.archive, entry);
  archive_entry_free(entry);
  if (status != ARCHIVE_OK) s.Fail("writing the header of entry " + entry_name);
}

ZipCompressSink::~ZipCompressSink() = default;

void ZipCompressSink::Write(std::string_view chunk) {
  State& s = *state_;
  s.CheckUsable("write");
  while (!chunk.empty()) {
    const size_t length = std::min(chunk.size(), kMaxWriteCall);
    const la_ssize_t written = archive_write_data(s.archive, chunk.data(), length);
    if (written <= 0 || s.sink_error) s.Fail("compressing");
    chunk.remove_prefix(static_cast<size_t>(written));
  }
}

void ZipCompressSink::Finish() {
  State& s = *state_;
  s.CheckUsable("Finish");
  s.finished = true;
  if (archive_write_close(s.archive) != ARCHIVE_OK || s.sink_error) {
    s.Fail("finishing the archive");
  }
}

}  // namespace snapd
