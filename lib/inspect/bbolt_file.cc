// BboltFile: bbolt's on-disk layout (meta pages, branch and leaf pages, inline buckets), read
// with every offset checked. Layout: a page is a 16-byte header {id u64, flags u16, count u16,
// overflow u32} then `count` 16-byte elements, all little-endian; a leaf element is {flags u32,
// pos u32, ksize u32, vsize u32}, a branch element {pos u32, ksize u32, pgid u64}, where `pos` is
// from the element's own start to its key (the value follows the key).
#include "inspect/bbolt_file.h"

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"

namespace snapd {
namespace {

constexpr uint32_t kMagic = 0xED0CDAED;
constexpr uint32_t kVersion = 2;
constexpr size_t kPageHeaderSize = 16;
constexpr size_t kElementSize = 16;  // branch and leaf elements alike
constexpr size_t kMetaSize = 64;     // magic .. txid, then the checksum of those 56 bytes
constexpr size_t kMetaChecksummed = 56;
constexpr size_t kBucketHeaderSize = 16;  // {root pgid u64, sequence u64}
constexpr uint16_t kBranchPage = 0x01;
constexpr uint16_t kLeafPage = 0x02;
constexpr uint16_t kMetaPage = 0x04;
constexpr uint32_t kBucketLeaf = 0x01;
// bbolt trees are a handful of levels deep (a 1 TiB file of 4 KiB pages needs about 8); a deeper
// descent is a corrupt file, and bounds a lookup on one that loops.
constexpr size_t kMaxDepth = 64;
// Page sizes bbolt can have been opened with: the OS page size, powers of two up to 64 KiB in
// practice; a little room either side.
constexpr uint32_t kMinPageSize = 512;
constexpr uint32_t kMaxPageSize = 1u << 20;

uint16_t Le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t Le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t Le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
// x86-64 and arm64, where k3s runs, are little-endian like the file: a plain load reads it.
static_assert(std::endian::native == std::endian::little, "bbolt files are read as little-endian");

[[noreturn]] void Corrupt(const std::string& what) {
  throw Error::Corrupt("bbolt: " + what);
}

std::string Describe(const BboltFile::Node& node) {
  return node.id == 0 ? std::string("inline page") : "page " + std::to_string(node.id);
}

uint64_t Fnv64a(const uint8_t* p, size_t size) {
  uint64_t hash = 14695981039346656037ull;
  for (size_t i = 0; i < size; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

struct Meta {
  uint32_t page_size = 0;
  uint64_t root = 0;
  uint64_t page_count = 0;
  uint64_t txid = 0;
};

// The meta page at `offset`, or nullopt with `problem` saying why it is not valid.
std::optional<Meta> ReadMeta(std::span<const uint8_t> data, uint64_t offset, std::string& problem) {
  if (data.size() < kPageHeaderSize + kMetaSize ||
      offset > data.size() - kPageHeaderSize - kMetaSize) {
    problem = "file too short (" + std::to_string(data.size()) + " bytes)";
    return std::nullopt;
  }
  const uint8_t* page = data.data() + offset;
  const uint8_t* m = page + kPageHeaderSize;
  if (Le32(m) != kMagic) {
    problem = "bad magic (not a bbolt database)";
    return std::nullopt;
  }
  if (Le32(m + 4) != kVersion) {
    problem = "unsupported version " + std::to_string(Le32(m + 4));
    return std::nullopt;
  }
  // bbolt accepts a checksum of 0 (files from before checksums); so do we.
  const uint64_t checksum = Le64(m + kMetaChecksummed);
  if (checksum != 0 && checksum != Fnv64a(m, kMetaChecksummed)) {
    problem = "bad checksum";
    return std::nullopt;
  }
  if ((Le16(page + 8) & kMetaPage) == 0) {
    problem = "not marked as a meta page";
    return std::nullopt;
  }
  Meta meta;
  meta.page_size = Le32(m + 8);
  meta.root = Le64(m + 16);  // the root bucket {root, sequence}: its root page
  meta.page_count = Le64(m + 40);
  meta.txid = Le64(m + 48);
  if (meta.page_size < kMinPageSize || meta.page_size > kMaxPageSize ||
      (meta.page_size & (meta.page_size - 1)) != 0) {
    problem = "bad page size " + std::to_string(meta.page_size);
    return std::nullopt;
  }
  return meta;
}

}  // namespace

BboltFile::BboltFile(std::span<const uint8_t> data) : data_(data) {
  std::string problem0, problem1;
  const std::optional<Meta> meta0 = ReadMeta(data, 0, problem0);
  // Meta page 1 sits one page in; without a valid meta 0 the page size is unknown: try each.
  std::optional<Meta> meta1;
  for (uint32_t size = kMinPageSize; size <= kMaxPageSize && !meta1; size *= 2) {
    if (meta0 && size != meta0->page_size) continue;
    std::string problem;
    meta1 = ReadMeta(data, size, problem);
    if (meta1 && meta1->page_size != size) {
      problem = "page size " + std::to_string(meta1->page_size) + " but found " +
                std::to_string(size) + " bytes in";
      meta1.reset();
    }
    // Report the candidate that looked most like a meta page: one with the magic, if any.
    const bool looked = !problem.starts_with("bad magic") && !problem.starts_with("file too short");
    if (!meta1 && (problem1.empty() || looked)) problem1 = problem;
  }
  if (!meta0 && !meta1) {
    Corrupt("no valid meta page: page 0: " + problem0 + "; page 1: " + problem1);
  }
  const Meta& meta = !meta1 || (meta0 && meta0->txid >= meta1->txid) ? *meta0 : *meta1;
  page_size_ = meta.page_size;
  txid_ = meta.txid;
  page_count_ = meta.page_count;
  root_ = meta.root;
  if (page_count_ > data.size() / page_size_) {
    Corrupt("truncated: the database has " + std::to_string(page_count_) + " pages of " +
            std::to_string(page_size_) + " bytes but the file holds " +
            std::to_string(data.size()) + " bytes");
  }
  if (root_ < 2 || root_ >= page_count_) {
    Corrupt("root page " + std::to_string(root_) + " out of range (the database has " +
            std::to_string(page_count_) + " pages)");
  }
}

BboltFile::Node BboltFile::Page(uint64_t id) const {
  if (id < 2 || id >= page_count_) {
    Corrupt("page id " + std::to_string(id) + " out of range (the database has " +
            std::to_string(page_count_) + " pages)");
  }
  const uint8_t* base = data_.data() + id * page_size_;
  Node node;
  node.base = base;
  node.id = id;
  node.flags = Le16(base + 8);
  node.count = Le16(base + 10);
  const uint32_t overflow = Le32(base + 12);
  if (Le64(base) != id)
    Corrupt("page " + std::to_string(id) + " says it is page " + std::to_string(Le64(base)));
  if (overflow >= page_count_ - id) {
    Corrupt("page " + std::to_string(id) + ": " + std::to_string(overflow) +
            " overflow pages run past the database's " + std::to_string(page_count_) + " pages");
  }
  node.size = (static_cast<size_t>(overflow) + 1) * page_size_;
  if (node.flags != kBranchPage && node.flags != kLeafPage) {
    Corrupt("page " + std::to_string(id) + " is not a branch or leaf page (flags " +
            std::to_string(node.flags) + ")");
  }
  if (kPageHeaderSize + static_cast<size_t>(node.count) * kElementSize > node.size) {
    Corrupt("page " + std::to_string(id) + ": " + std::to_string(node.count) +
            " elements do not fit in its " + std::to_string(node.size) + " bytes");
  }
  if (node.flags == kBranchPage && node.count == 0) {
    Corrupt("branch page " + std::to_string(id) + " has no elements");
  }
  return node;
}

BboltFile::LeafElement BboltFile::Leaf(const Node& node, uint16_t index) const {
  const size_t at = kPageHeaderSize + static_cast<size_t>(index) * kElementSize;
  const uint8_t* element = node.base + at;
  const uint64_t start = at + static_cast<uint64_t>(Le32(element + 4));
  const uint64_t key_size = Le32(element + 8);
  const uint64_t value_size = Le32(element + 12);
  if (start + key_size + value_size > node.size) {
    Corrupt(Describe(node) + ": element " + std::to_string(index) + " overruns the page");
  }
  const char* key = reinterpret_cast<const char*>(node.base + start);
  return LeafElement{Le32(element), std::string_view(key, key_size),
                     std::string_view(key + key_size, value_size)};
}

std::pair<std::string_view, uint64_t> BboltFile::Branch(const Node& node, uint16_t index) const {
  const size_t at = kPageHeaderSize + static_cast<size_t>(index) * kElementSize;
  const uint8_t* element = node.base + at;
  const uint64_t start = at + static_cast<uint64_t>(Le32(element));
  const uint64_t key_size = Le32(element + 4);
  if (start + key_size > node.size) {
    Corrupt(Describe(node) + ": element " + std::to_string(index) + " overruns the page");
  }
  return {std::string_view(reinterpret_cast<const char*>(node.base + start), key_size),
          Le64(element + 8)};
}

std::optional<BboltFile::LeafElement> BboltFile::Find(const Bucket& bucket,
                                                      std::string_view key) const {
  Node node = bucket.root != 0 ? Page(bucket.root) : bucket.inline_page;
  for (size_t depth = 0; node.flags == kBranchPage; ++depth) {
    if (depth == kMaxDepth)
      Corrupt("tree deeper than " + std::to_string(kMaxDepth) + " levels (a cycle?)");
    // The last element whose key is <= `key` (the first when all are greater).
    uint16_t low = 0, high = node.count;  // answer in [low, high)
    while (high - low > 1) {
      const uint16_t mid = static_cast<uint16_t>(low + (high - low) / 2);
      if (Branch(node, mid).first <= key) {
        low = mid;
      } else {
        high = mid;
      }
    }
    node = Page(Branch(node, low).second);
  }
  uint16_t low = 0, high = node.count;  // first element >= key in [low, high]
  while (low < high) {
    const uint16_t mid = static_cast<uint16_t>(low + (high - low) / 2);
    if (Leaf(node, mid).key < key) {
      low = static_cast<uint16_t>(mid + 1);
    } else {
      high = mid;
    }
  }
  if (low == node.count) return std::nullopt;
  LeafElement element = Leaf(node, low);
  if (element.key != key) return std::nullopt;
  return element;
}

std::optional<BboltFile::Bucket> BboltFile::FindBucket(std::string_view name) const {
  const std::optional<LeafElement> element = Find(Bucket{root_, {}}, name);
  if (!element || (element->flags & kBucketLeaf) == 0) return std::nullopt;
  const std::string_view value = element->value;
  if (value.size() < kBucketHeaderSize) {
    Corrupt("bucket " + std::string(name) + ": its header is " + std::to_string(value.size()) +
            " bytes, not 16");
  }
  const auto* header = reinterpret_cast<const uint8_t*>(value.data());
  Bucket bucket;
  bucket.root = Le64(header);
  if (bucket.root != 0) return bucket;
  // An inline bucket: a leaf page (header and elements) right after the bucket header.
  if (value.size() < kBucketHeaderSize + kPageHeaderSize) {
    Corrupt("bucket " + std::string(name) + ": inline page of " +
            std::to_string(value.size() - kBucketHeaderSize) + " bytes");
  }
  Node& node = bucket.inline_page;
  node.base = header + kBucketHeaderSize;
  node.size = value.size() - kBucketHeaderSize;
  node.flags = Le16(node.base + 8);
  node.count = Le16(node.base + 10);
  if (node.flags != kLeafPage) {
    Corrupt("bucket " + std::string(name) + ": inline page is not a leaf (flags " +
            std::to_string(node.flags) + ")");
  }
  if (kPageHeaderSize + static_cast<size_t>(node.count) * kElementSize > node.size) {
    Corrupt("bucket " + std::string(name) + ": inline page: " + std::to_string(node.count) +
            " elements do not fit in its " + std::to_string(node.size) + " bytes");
  }
  return bucket;
}

bool BboltFile::HasBucket(std::string_view name) const {
  return FindBucket(name).has_value();
}

std::optional<std::string_view> BboltFile::Get(std::string_view bucket_name,
                                               std::string_view key) const {
  const std::optional<Bucket> bucket = FindBucket(bucket_name);
  if (!bucket) return std::nullopt;
  const std::optional<LeafElement> element = Find(*bucket, key);
  if (!element || (element->flags & kBucketLeaf) != 0) return std::nullopt;
  return element->value;
}

void BboltFile::ForEach(
    std::string_view bucket_name,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  const std::optional<Bucket> bucket = FindBucket(bucket_name);
  if (!bucket) throw Error::NotFound("bbolt: no bucket " + std::string(bucket_name));
  // Depth first, each branch page's children in order. Every page may be reached once: a page
  // reached again is a cycle (or two parents), which would otherwise repeat or never end.
  std::vector<bool> visited(bucket->root != 0 ? page_count_ : 0);
  struct Frame {
    Node node;
    uint16_t next = 0;
  };
  std::vector<Frame> stack;
  if (bucket->root != 0) {
    stack.push_back(Frame{Page(bucket->root)});  // checks the id before it marks it
    visited[bucket->root] = true;
  } else {
    stack.push_back(Frame{bucket->inline_page});
  }
  std::string_view previous;
  bool first = true;
  while (!stack.empty()) {
    Frame& frame = stack.back();
    if (frame.node.flags == kLeafPage) {
      for (uint16_t i = 0; i < frame.node.count; ++i) {
        const LeafElement element = Leaf(frame.node, i);
        if (!first && element.key <= previous) {
          Corrupt(Describe(frame.node) + ": keys out of order in bucket " +
                  std::string(bucket_name));
        }
        first = false;
        previous = element.key;
        if ((element.flags & kBucketLeaf) != 0) continue;  // a nested bucket, not a pair
        if (!visit(element.key, element.value)) return;
      }
      stack.pop_back();
      continue;
    }
    if (frame.next == frame.node.count) {
      stack.pop_back();
      continue;
    }
    const uint64_t child = Branch(frame.node, frame.next++).second;
    if (child < visited.size() && visited[child]) {
      Corrupt("page " + std::to_string(child) + " is reached twice in bucket " +
              std::string(bucket_name) + " (a cycle?)");
    }
    if (stack.size() == kMaxDepth) {
      Corrupt("bucket " + std::string(bucket_name) + ": tree deeper than " +
              std::to_string(kMaxDepth) + " levels");
    }
    const Node node = Page(child);  // throws for ids out of range, so `visited` covers it
    visited[child] = true;
    stack.push_back(Frame{node});
  }
}

}  // namespace snapd
