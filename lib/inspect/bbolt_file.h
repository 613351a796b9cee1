// Reads etcd's bbolt database held in memory: validates the meta pages, finds top-level buckets
// and walks their B+trees. Pure and bounded: every page, element and id is checked against the
// data, so corrupt input is an Error::Corrupt naming what is wrong, never a crash or a hang.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

namespace snapd {

class BboltFile {
 public:
  // Validates both meta pages (magic 0xED0CDAED, version 2, FNV-64a checksum) and uses the valid
  // one with the higher txid. Throws Error (kind Corrupt) naming what is wrong. `data` must stay
  // alive and unchanged as long as this object and the views it hands out.
  explicit BboltFile(std::span<const uint8_t> data);

  uint32_t page_size() const { return page_size_; }
  uint64_t txid() const { return txid_; }
  // The database's pages (its high-water mark): the bytes it uses are page_count * page_size.
  uint64_t page_count() const { return page_count_; }

  // Whether a top-level bucket of that name exists.
  bool HasBucket(std::string_view name) const;
  // Visits a top-level bucket's non-bucket key/value pairs in key order; return false to stop.
  // The views point into `data` (values on overflow pages are contiguous there) and stay valid as
  // long as it does. Throws kNotFound when there is no such bucket, Corrupt on bad pages
  // (including keys out of order, and a page reached twice: a cycle).
  void ForEach(
      std::string_view bucket,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const;
  // The value of `key` in a top-level bucket; nullopt when the bucket or the key is absent, or
  // the key names a nested bucket. Throws Corrupt on bad pages.
  std::optional<std::string_view> Get(std::string_view bucket, std::string_view key) const;

  // One page or inline page: `size` bytes from `base` (a page with its overflow pages).
  struct Node {
    const uint8_t* base = nullptr;
    size_t size = 0;
    uint16_t flags = 0;
    uint16_t count = 0;
    uint64_t id = 0;  // 0 for an inline page
  };
  // A bucket's tree: its root page, or (root 0) the inline page stored in its value.
  struct Bucket {
    uint64_t root = 0;
    Node inline_page;
  };

 private:
  std::optional<Bucket> FindBucket(std::string_view name) const;
  // The branch or leaf page `id`; throws Corrupt when it is out of range or not one.
  Node Page(uint64_t id) const;
  // The leaf element (flags, key, value) at `index`; bounds checked.
  struct LeafElement {
    uint32_t flags = 0;
    std::string_view key;
    std::string_view value;
  };
  LeafElement Leaf(const Node& node, uint16_t index) const;
  // The branch element (key, child page id) at `index`; bounds checked.
  std::pair<std::string_view, uint64_t> Branch(const Node& node, uint16_t index) const;
  // The key/value of `key` in the tree of `bucket`, with its leaf flags.
  std::optional<LeafElement> Find(const Bucket& bucket, std::string_view key) const;

  std::span<const uint8_t> data_;
  uint32_t page_size_ = 0;
  uint64_t txid_ = 0;
  uint64_t page_count_ = 0;
  uint64_t root_ = 0;  // the root bucket's page: its leaves hold the top-level buckets
};

}  // namespace snapd
