// StateWriter / StateReader: the little-endian binary encoding of checkpointed stream state
// (watermarks, join state). Fixed-width integers and doubles, strings as u32 length + bytes. A
// reader never reads past its input: any shortfall turns it into a failed reader (ok() == false),
// which the caller reports as Corruption. See docs/checkpoint_format.md, section "join state".
//
// Thread-safety: value types, one thread at a time.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace smartcity::stream {

static_assert(std::endian::native == std::endian::little,
              "checkpoint encoding assumes a little-endian host");

class StateWriter {
 public:
  explicit StateWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void I32(int32_t v) { Raw(&v, 4); }
  void I64(int64_t v) { Raw(&v, 8); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void F64(double v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_->append(s);
  }

 private:
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  std::string* out_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }
  uint8_t U8() {
    uint8_t v = 0;
    Raw(&v, 1);
    return v;
  }
  uint32_t U32() { return Get<uint32_t>(); }
  int32_t I32() { return Get<int32_t>(); }
  int64_t I64() { return Get<int64_t>(); }
  uint64_t U64() { return Get<uint64_t>(); }
  double F64() { return Get<double>(); }
  std::string_view Str() {
    const uint32_t n = U32();
    if (!ok_ || n > in_.size()) {
      ok_ = false;
      return {};
    }
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }

 private:
  template <typename T>
  T Get() {
    T v{};
    Raw(&v, sizeof v);
    return v;
  }
  void Raw(void* p, size_t n) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return;
    }
    std::memcpy(p, in_.data(), n);
    in_.remove_prefix(n);
  }
  std::string_view in_;
  bool ok_ = true;
};

// Reads a state blob's header, its magic number and format version, and checks both against what
// this build writes: Corruption "<what>: bad magic number" or "<what>: version N is not supported
// (this build reads version M)".
inline Status ReadStateHeader(StateReader* r, uint32_t magic, uint32_t version,
                              std::string_view what) {
  const uint32_t got_magic = r->U32();
  const uint32_t got_version = r->U32();
  if (!r->ok() || got_magic != magic)
    return Status::Corruption(std::string(what) + ": bad magic number");
  if (got_version != version) {
    return Status::Corruption(std::string(what) + ": version " + std::to_string(got_version) +
                              " is not supported (this build reads version " +
                              std::to_string(version) + ")");
  }
  return Status::OK();
}

}  // namespace smartcity::stream
