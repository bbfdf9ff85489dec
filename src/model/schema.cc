#include "model/schema.h"

#include <string>
#include <vector>

namespace smartcity::model {

namespace {

std::shared_ptr<const Schema> Build(Table t) {
  auto s = std::make_shared<Schema>();
  for (const ColumnDef& c : Columns(t))
    s->columns.push_back({std::string(c.name), c.type, c.nullable});
  return s;
}

}  // namespace

std::optional<Table> TableFromName(std::string_view name) {
  for (size_t i = 0; i < kTableCount; ++i) {
    if (kTables[i].name == name) return static_cast<Table>(i);
  }
  return std::nullopt;
}

const std::shared_ptr<const Schema>& SchemaOf(Table t) {
  static const std::array<std::shared_ptr<const Schema>, kTableCount> kSchemas = [] {
    std::array<std::shared_ptr<const Schema>, kTableCount> out;
    for (size_t i = 0; i < kTableCount; ++i) out[i] = Build(static_cast<Table>(i));
    return out;
  }();
  return kSchemas[static_cast<size_t>(t)];
}

}  // namespace smartcity::model
