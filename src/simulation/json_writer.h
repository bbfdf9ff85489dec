// JsonWriter: appends JSON text to a std::string with no allocation per value once the string has
// grown (the simulator reuses one buffer per tick). Numbers are written in fixed-point with a given
// number of decimals by integer arithmetic, which is fast and identical on every platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace smartcity::simulation {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void Raw(std::string_view s) { out_->append(s.data(), s.size()); }
  void Char(char c) { out_->push_back(c); }
  // A string known to need no escaping (ids, enum names, our own text).
  void PlainString(std::string_view s) {
    out_->push_back('"');
    out_->append(s.data(), s.size());
    out_->push_back('"');
  }
  void Int(int64_t v) {
    char buf[24];
    char* end = buf + sizeof buf;
    char* p = end;
    const bool neg = v < 0;
    uint64_t u = neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    do {
      *--p = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (neg) *--p = '-';
    out_->append(p, static_cast<size_t>(end - p));
  }
  // `v` rounded to `decimals` (0..9) places, e.g. Fixed(51.5074, 6) -> 51.507400.
  void Fixed(double v, int decimals) {
    static constexpr int64_t kPow10[] = {1,      10,      100,      1000,      10000,
                                         100000, 1000000, 10000000, 100000000, 1000000000};
    const int64_t scaled = std::llround(v * static_cast<double>(kPow10[decimals]));
    const bool neg = scaled < 0;
    uint64_t u = neg ? 0 - static_cast<uint64_t>(scaled) : static_cast<uint64_t>(scaled);
    char buf[32];
    char* end = buf + sizeof buf;
    char* p = end;
    for (int i = 0; i < decimals; ++i) {
      *--p = static_cast<char>('0' + u % 10);
      u /= 10;
    }
    if (decimals > 0) *--p = '.';
    do {
      *--p = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (neg) *--p = '-';
    out_->append(p, static_cast<size_t>(end - p));
  }

 private:
  std::string* out_;
};

}  // namespace smartcity::simulation
