// Builds small bbolt files page by page for tests: valid ones (etcd's buckets, overflow values,
// inline buckets) and, by editing the bytes afterwards, every kind of corruption.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "etcd/protobuf_wire.h"

namespace snapd::test {

class BboltBuilder {
 public:
  struct Element {
    std::string key, value;
    uint32_t flags = 0;  // 0x01: a nested bucket
  };

  explicit BboltBuilder(uint32_t page_size = 4096) : page_size_(page_size) {
    bytes_.assign(3 * static_cast<size_t>(page_size), 0);  // meta 0, meta 1, freelist
    PutHeader(2, 0x10, 0, 0);
  }

  // A leaf page (with overflow pages when the elements need them); returns its id.
  uint64_t Leaf(const std::vector<Element>& elements) {
    std::string page = PageBody(elements.size());
    for (size_t i = 0; i < elements.size(); ++i) {
      const size_t at = 16 + 16 * i;
      Put32(page, at, elements[i].flags);
      Put32(page, at + 4, static_cast<uint32_t>(page.size() - at));
      Put32(page, at + 8, static_cast<uint32_t>(elements[i].key.size()));
      Put32(page, at + 12, static_cast<uint32_t>(elements[i].value.size()));
      page += elements[i].key + elements[i].value;
    }
    return Append(page, 0x02, elements.size());
  }

  // A branch page over (first key, child page) pairs; returns its id.
  uint64_t Branch(const std::vector<std::pair<std::string, uint64_t>>& children) {
    std::string page = PageBody(children.size());
    for (size_t i = 0; i < children.size(); ++i) {
      const size_t at = 16 + 16 * i;
      Put32(page, at, static_cast<uint32_t>(page.size() - at));
      Put32(page, at + 4, static_cast<uint32_t>(children[i].first.size()));
      Put64(page, at + 8, children[i].second);
      page += children[i].first;
    }
    return Append(page, 0x01, children.size());
  }

  // The value of a bucket element whose tree is at page `root`.
  static std::string BucketValue(uint64_t root) {
    std::string value(16, '\0');
    Put64(value, 0, root);
    return value;
  }
  // The value of an inline bucket: header with root 0, then a leaf page of `elements`.
  static std::string InlineBucket(const std::vector<Element>& elements) {
    BboltBuilder scratch(1 << 16);
    const uint64_t id = scratch.Leaf(elements);
    size_t used = 16 + 16 * elements.size();  // header, elements, then their keys and values
    for (const Element& e : elements) used += e.key.size() + e.value.size();
    std::string page(reinterpret_cast<const char*>(scratch.bytes_.data()) + id * (1 << 16), used);
    Put64(page, 0, 0);
    return BucketValue(0) + page;
  }

  // Writes both meta pages (meta 0 with `txid`, meta 1 with txid - 1) pointing at the root
  // bucket page `root`, and returns the file.
  std::vector<uint8_t> Finish(uint64_t root, uint64_t txid = 8) {
    WriteMeta(0, root, txid);
    WriteMeta(1, root, txid - 1);
    return bytes_;
  }
  // Rewrites meta page `index` (after Finish, on the returned bytes).
  static void WriteMeta(std::vector<uint8_t>& bytes, uint32_t page_size, int index, uint64_t root,
                        uint64_t txid, uint64_t page_count) {
    uint8_t* page = bytes.data() + static_cast<size_t>(index) * page_size;
    std::memset(page, 0, 80);
    uint64_t id = static_cast<uint64_t>(index);
    std::memcpy(page, &id, 8);
    page[8] = 0x04;
    uint8_t* m = page + 16;
    const uint32_t magic = 0xED0CDAED, version = 2;
    std::memcpy(m, &magic, 4);
    std::memcpy(m + 4, &version, 4);
    std::memcpy(m + 8, &page_size, 4);
    std::memcpy(m + 16, &root, 8);
    const uint64_t freelist = 2;
    std::memcpy(m + 32, &freelist, 8);
    std::memcpy(m + 40, &page_count, 8);
    std::memcpy(m + 48, &txid, 8);
    const uint64_t sum = Fnv64a(m, 56);
    std::memcpy(m + 56, &sum, 8);
  }
  static uint64_t Fnv64a(const uint8_t* p, size_t n) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }

  uint32_t page_size() const { return page_size_; }
  uint64_t page_count() const { return bytes_.size() / page_size_; }

 private:
  static std::string PageBody(size_t count) { return std::string(16 + 16 * count, '\0'); }
  static void Put32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }
  static void Put64(std::string& s, size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); }
  void PutHeader(uint64_t id, uint16_t flags, size_t count, uint32_t overflow) {
    uint8_t* page = bytes_.data() + id * page_size_;
    std::memcpy(page, &id, 8);
    std::memcpy(page + 8, &flags, 2);
    const auto count16 = static_cast<uint16_t>(count);
    std::memcpy(page + 10, &count16, 2);
    std::memcpy(page + 12, &overflow, 4);
  }
  uint64_t Append(const std::string& page, uint16_t flags, size_t count) {
    const uint64_t id = page_count();
    const size_t pages = (page.size() + page_size_ - 1) / page_size_;
    bytes_.resize(bytes_.size() + pages * page_size_, 0);
    std::memcpy(bytes_.data() + id * page_size_, page.data(), page.size());
    PutHeader(id, flags, count, static_cast<uint32_t>(pages - 1));
    return id;
  }
  void WriteMeta(int index, uint64_t root, uint64_t txid) {
    WriteMeta(bytes_, page_size_, index, root, txid, page_count());
  }

  uint32_t page_size_;
  std::vector<uint8_t> bytes_;
};

// etcd's layout: a revision key of bucket "key" and the mvccpb.KeyValue row it holds.
inline std::string RevisionKey(int64_t main, int64_t sub = 0, bool tombstone = false) {
  std::string key(17, '\0');
  for (int i = 0; i < 8; ++i) {
    key[i] = static_cast<char>(static_cast<uint64_t>(main) >> (56 - 8 * i));
    key[9 + i] = static_cast<char>(static_cast<uint64_t>(sub) >> (56 - 8 * i));
  }
  key[8] = '_';
  if (tombstone) key += 't';
  return key;
}

// A row as etcd writes it (gogoproto leaves zero fields out); a tombstone holds only the key.
inline std::string KeyValueRow(const std::string& key, const std::string& value, int64_t create,
                               int64_t mod, int64_t version, int64_t lease = 0) {
  ProtobufWriter writer;
  writer.Bytes(1, key);
  if (create != 0) writer.Varint(2, static_cast<uint64_t>(create));
  if (mod != 0) writer.Varint(3, static_cast<uint64_t>(mod));
  if (version != 0) writer.Varint(4, static_cast<uint64_t>(version));
  if (!value.empty()) writer.Bytes(5, value);
  if (lease != 0) writer.Varint(6, static_cast<uint64_t>(lease));
  return writer.message();
}

}  // namespace snapd::test
