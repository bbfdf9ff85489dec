#include "warehouse/names.h"

#include <set>
#include <string>

namespace smartcity::warehouse {

namespace {

// PostgreSQL 15's reserved key words (appendix C: "reserved" and "reserved (can be function or
// type)"), and Amazon Redshift's reserved words; lower case, each between spaces.
constexpr std::string_view kReserved =
    " aes128 aes256 all allowoverwrite analyse analyze and any array as asc asymmetric "
    "authorization az64 backup between binary blanksasnull both bytedict bzip2 case cast check "
    "collate collation column concurrently constraint create credentials cross current_catalog "
    "current_date current_role current_schema current_time current_timestamp current_user "
    "current_user_id default deferrable deflate defrag delta delta32k desc disable distinct do "
    "else emptyasnull enable encode encrypt encryption end except explicit false fetch for "
    "foreign freeze from full globaldict256 globaldict64k grant group gzip having identity ignore "
    "ilike in initially inner intersect interval into is isnull join lateral leading left like "
    "limit localtime localtimestamp lun luns lzo lzop minus mostly16 mostly32 mostly8 natural new "
    "not notnull null nulls off offline offset oid old on only open or order outer overlaps "
    "parallel partition percent permissions pivot placing primary raw readratio recover "
    "references rejectlog resort respect restore returning right select session_user similar "
    "snapshot some symmetric sysdate system table tablesample tag tdes text255 text32k then "
    "timestamp to top trailing true truncatecolumns union unique unnest unpivot user using "
    "variadic verbose wallet when where window with without ";

bool IsLower(char c) {
  return c >= 'a' && c <= 'z';
}
bool IsUpper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

bool IsReservedWord(std::string_view word) {
  if (word.empty() || word.find(' ') != std::string_view::npos) return false;
  return kReserved.find(" " + std::string(word) + " ") != std::string_view::npos;
}

std::string WarehouseColumnName(std::string_view lake_name) {
  const std::string_view in = lake_name;
  std::string out;
  out.reserve(in.size() + 4);
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (IsUpper(c)) {
      // A boundary before an upper-case letter that follows a lower-case letter or a digit
      // (deviceId), or that starts a word after an acronym (GPSSpeed: before the S of Speed).
      const bool after_word = i > 0 && (IsLower(in[i - 1]) || IsDigit(in[i - 1]));
      const bool ends_acronym =
          i > 0 && IsUpper(in[i - 1]) && i + 1 < in.size() && IsLower(in[i + 1]);
      if ((after_word || ends_acronym) && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else if (IsLower(c) || IsDigit(c) || c == '_') {
      out += c;
    } else {
      out += '_';
    }
  }
  if (out.empty() || IsDigit(out.front())) out.insert(out.begin(), '_');
  if (IsReservedWord(out)) out += '_';
  if (out.size() > 63) out.resize(63);
  return out;
}

std::vector<std::string> WarehouseColumnNames(const std::vector<std::string>& lake_names) {
  std::vector<std::string> out;
  out.reserve(lake_names.size());
  std::set<std::string> taken;
  for (const std::string& lake : lake_names) {
    std::string name = WarehouseColumnName(lake);
    if (taken.contains(name)) {
      for (int n = 2;; ++n) {
        std::string suffix = "_" + std::to_string(n);
        std::string candidate = name.substr(0, 63 - suffix.size()) + suffix;
        if (!taken.contains(candidate)) {
          name = std::move(candidate);
          break;
        }
      }
    }
    taken.insert(name);
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace smartcity::warehouse
