#include "warehouse/warehouse_testutil.h"

#include <gtest/gtest.h>

#include "lake/delta_table.h"
#include "model/schema.h"

namespace smartcity::warehouse::testing {

namespace {

class FaultyConnection final : public WarehouseConnection {
 public:
  FaultyConnection(std::unique_ptr<WarehouseConnection> base, FaultPlan* plan)
      : base_(std::move(base)), plan_(plan) {}
  ~FaultyConnection() override {
    // The session is gone: its open transaction (if any) does not survive.
    if (in_txn_) (void)base_->Rollback();
  }

  const Dialect& dialect() const override { return base_->dialect(); }
  Status Begin() override {
    ++plan_->begins;
    return Op([&] {
      Status s = base_->Begin();
      if (s.ok()) in_txn_ = true;
      return s;
    });
  }
  Status Commit() override {
    return Op([&] {
      Status s = base_->Commit();
      in_txn_ = false;
      return s;
    });
  }
  Status Rollback() override {
    if (dead_) return Dead();
    in_txn_ = false;
    return base_->Rollback();
  }
  Status Execute(std::string_view sql) override {
    return Op([&] { return base_->Execute(sql); });
  }
  Result<std::vector<std::vector<std::optional<std::string>>>> Query(
      std::string_view sql) override {
    std::vector<std::vector<std::optional<std::string>>> rows;
    Status s = Op([&] {
      auto r = base_->Query(sql);
      if (!r.ok()) return r.status();
      rows = std::move(*r);
      return Status::OK();
    });
    if (!s.ok()) return s;
    return rows;
  }
  Status CopyBatch(const std::string& table, const RecordBatch& batch) override {
    return Op([&] { return base_->CopyBatch(table, batch); });
  }
  bool CopiesFiles() const override { return base_->CopiesFiles(); }
  bool ReadsLocalFiles() const override { return !plan_->rows_only && base_->ReadsLocalFiles(); }
  Status CopyParquetFiles(const std::string& table, const TargetColumns& columns,
                          const std::vector<ParquetFile>& files) override {
    return Op([&] { return base_->CopyParquetFiles(table, columns, files); });
  }
  std::string Describe() const override { return "faulty " + base_->Describe(); }

 private:
  static Status Dead() { return Status::Unavailable("injected: the warehouse connection is lost"); }
  template <typename F>
  Status Op(F&& f) {
    if (dead_) return Dead();
    const bool fire = ++plan_->ops == plan_->fail_at;
    if (fire && !plan_->after) {
      dead_ = true;
      ++plan_->failures;
      return Dead();
    }
    Status s = f();
    if (fire) {
      dead_ = true;
      ++plan_->failures;
      return Dead();
    }
    return s;
  }

  std::unique_ptr<WarehouseConnection> base_;
  FaultPlan* plan_;
  bool dead_ = false;
  bool in_txn_ = false;
};

}  // namespace

std::unique_ptr<WarehouseConnection> WrapFaulty(std::unique_ptr<WarehouseConnection> base,
                                                FaultPlan* plan) {
  return std::make_unique<FaultyConnection>(std::move(base), plan);
}

std::shared_ptr<const Schema> EventSchema(bool with_note) {
  // A raw table's layout, from the model: the vehicle table's key, event time and speed (nullable
  // here, to load NULLs), then its provenance and partition columns.
  namespace v = model::vehicle_col;
  auto spec = [](int column, bool nullable) {
    const model::ColumnDef& d = model::kVehicleColumns[static_cast<size_t>(column)];
    return ColumnSpec{std::string(d.name), d.type, nullable};
  };
  auto s = std::make_shared<Schema>();
  s->columns = {spec(v::kDeviceId, false),  spec(v::kTimestamp, false), spec(v::kSpeed, true),
                spec(v::kPartition, false), spec(v::kOffset, false),    spec(v::kDate, false)};
  if (with_note) s->columns.push_back({"note", LogicalType::kString, true});
  return s;
}

void CommitEvents(lake::ObjectStore* store, engine::Database* db, const std::string& table,
                  int64_t first, int n, bool with_note, int64_t txn_version) {
  auto schema = EventSchema(with_note);
  lake::TableOptions o;
  o.partitions = {lake::PartitionField::Identity("date")};
  o.checkpoint_interval = 0;
  auto t = lake::DeltaTable::Open(store, db, table, schema, o);
  ASSERT_TRUE(t.ok()) << t.status().message();
  RecordBatch b(schema);
  const int64_t base = 1767654000000000LL;  // 2026-01-05T23:00:00Z
  for (int i = 0; i < n; ++i) {
    const int64_t seq = first + i;
    b.column(0).AppendString("dev-" + std::to_string(seq % 3) + "\t\\x");
    b.column(1).AppendInt64(base + seq * 60'000'000LL + 123);
    if (seq % 7 == 0) {
      b.column(2).AppendNull();
    } else {
      b.column(2).AppendDouble(0.1 * static_cast<double>(seq));
    }
    b.column(3).AppendInt32(0);
    b.column(4).AppendInt64(seq);
    b.column(5).AppendString(seq % 2 == 0 ? "2026-01-05" : "2026-01-06");
    if (with_note) {
      if (seq % 2 == 0) {
        b.column(6).AppendString("n" + std::to_string(seq));
      } else {
        b.column(6).AppendNull();
      }
    }
  }
  ASSERT_TRUE((*t)->Append(b).ok());
  auto r = (*t)->Commit("test", txn_version);
  ASSERT_TRUE(r.ok()) << r.status().message();
}

}  // namespace smartcity::warehouse::testing
