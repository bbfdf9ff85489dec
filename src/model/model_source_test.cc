// One place per fact: a JSON field name of the event model is written in src/model/ and nowhere
// else in src/ (tests aside). This test reads every non-test C++ file under src/ and fails, naming
// file:line, where a quoted field name ("deviceId" or \"deviceId\") appears outside a comment.
//
// A few of the model's names are also words of other formats (Delta's "type" and "timestamp", the
// catalog's "location"): kOtherMeanings lists those uses, each with what it means there.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "model/schema.h"

namespace smartcity::model {
namespace {

namespace fs = std::filesystem;

struct OtherMeaning {
  std::string_view file;  // relative to src/
  std::string_view name;
  std::string_view why;
};
constexpr OtherMeaning kOtherMeanings[] = {
    {"common/logical_type.h", "timestamp", "the logical type's name"},
    {"lake/delta_log.cc", "timestamp", "Delta's type name and commitInfo.timestamp"},
    {"lake/delta_log.cc", "type", "Delta's schemaString field type"},
    {"lake/delta_log.cc", "id", "Delta's metaData.id"},
    {"lake/delta_log.cc", "description", "Delta's metaData.description"},
    {"catalog/catalog.cc", "type", "the catalog file's column type"},
    {"catalog/catalog.cc", "location", "the catalog file's table location"},
    {"catalog/catalog.cc", "timestamp", "a catalog type name"},
    {"web/api.cc", "status", "the health endpoint's status"},
    {"lake/iceberg.cc", "type", "Iceberg's schema field type and the Avro schemas' type"},
    {"lake/iceberg.cc", "id", "Iceberg's schema field id"},
    {"lake/iceberg.cc", "status", "Iceberg's manifest_entry.status"},
    {"lake/iceberg.cc", "location", "Iceberg's table location"},
    {"lake/avro_file.cc", "type", "the Avro container header's schema"},
};

bool IsTestFile(const std::string& name) {
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends("_test.cc") || ends("_itest.cc") || ends("_testmain.cc") || ends("_testutil.cc") ||
         ends("_testutil.h");
}

// The line without a trailing // comment (a "//" inside a string literal is kept).
std::string_view Code(std::string_view line) {
  bool in_string = false;
  for (size_t i = 0; i + 1 < line.size(); ++i) {
    const char c = line[i];
    if (in_string && c == '\\') {
      ++i;
    } else if (c == '"') {
      in_string = !in_string;
    } else if (!in_string && c == '/' && line[i + 1] == '/') {
      return line.substr(0, i);
    }
  }
  return line;
}

TEST(ModelSourceTest, JsonFieldNamesAreWrittenOnlyInTheModel) {
  std::set<std::string> names;
  for (Topic t : kAllTopics) {
    for (const ColumnDef& c : RawColumns(t)) {
      if (!JsonName(c).empty()) names.emplace(JsonName(c));
    }
  }
  ASSERT_GE(names.size(), 20u);

  const fs::path src = fs::path(SMARTCITY_SOURCE_DIR) / "src";
  std::vector<std::string> found;
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    if (!entry.is_regular_file()) continue;
    const fs::path& p = entry.path();
    if (p.extension() != ".h" && p.extension() != ".cc") continue;
    const std::string rel = fs::relative(p, src).generic_string();
    if (rel.rfind("model/", 0) == 0 || IsTestFile(p.filename().string())) continue;
    ++files;
    std::ifstream in(p);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      const std::string_view code = Code(line);
      for (const std::string& name : names) {
        const bool quoted = code.find("\"" + name + "\"") != std::string_view::npos ||
                            code.find("\\\"" + name + "\\\"") != std::string_view::npos;
        if (!quoted) continue;
        bool other = false;
        for (const OtherMeaning& o : kOtherMeanings)
          other = other || (o.file == rel && o.name == name);
        if (!other) found.push_back("src/" + rel + ":" + std::to_string(n) + ": \"" + name + "\"");
      }
    }
  }
  EXPECT_GT(files, 100u) << "the source tree was not found under " << src;
  std::string report;
  for (const std::string& f : found) report += f + "\n";
  EXPECT_TRUE(found.empty()) << "JSON field names of the event model written outside src/model/ "
                                "(take them from model/schema.h):\n"
                             << report;
}

}  // namespace
}  // namespace smartcity::model
