#include "pipeline/epoch_committer.h"

#include <chrono>

#include "common/process_stats.h"

namespace smartcity::pipeline {

std::string TxnAppId(std::string_view query, int32_t p) {
  return std::string(query) + "-p" + std::to_string(p);
}

Result<std::unique_ptr<EpochCommitter>> EpochCommitter::Open(
    const CheckpointStore* checkpoints, lake::ObjectStore* store, engine::Database* db,
    lake::TableOptions table, const RetryPolicy* retry, Clock* clock, Micros group_commit_wait) {
  std::unique_ptr<EpochCommitter> c(new EpochCommitter(checkpoints, retry, Clock::OrReal(clock)));
  c->group_commit_wait_ = group_commit_wait;
  table.partitions = {lake::PartitionField::Identity("date")};
  for (size_t i = 0; i < kOutputTableCount; ++i) {
    const auto t = static_cast<OutputTable>(i);
    SC_ASSIGN_OR_RETURN(c->tables_[i],
                        lake::DeltaTable::Open(store, db, std::string(stream::OutputTableName(t)),
                                               stream::SchemaOf(t), table));
  }
  return c;
}

EpochCommitter::~EpochCommitter() {
  // The committer thread uses the tables and the store: it must be done before they go.
  if (thread_.joinable()) thread_.join();
}

void EpochCommitter::Start(std::unique_ptr<EpochJob> job) {
  {
    MutexLock lock(&mu_);
    done_ = false;
  }
  inflight_ = std::move(job);
  EpochJob* j = inflight_.get();
  thread_ = std::thread([this, j] {
    NameThisThread("sc-commit");
    Run(j);
    MutexLock lock(&mu_);
    done_ = true;
  });
}

std::unique_ptr<EpochJob> EpochCommitter::RunInline(std::unique_ptr<EpochJob> job) {
  Run(job.get());
  return job;
}

bool EpochCommitter::busy() const {
  if (inflight_ == nullptr) return false;
  MutexLock lock(&mu_);
  return !done_;
}

std::unique_ptr<EpochJob> EpochCommitter::Wait() {
  if (thread_.joinable()) thread_.join();
  return std::move(inflight_);
}

std::unique_ptr<EpochJob> EpochCommitter::Reap() {
  if (busy() || inflight_ == nullptr) return nullptr;
  return Wait();
}

void EpochCommitter::Run(EpochJob* job) {
  const ProcessingTime start = clock_->Now();
  job->status = [&]() -> Status {
    // 1. Offsets logs: from here on each epoch's content is fixed (a replay reproduces it).
    for (const EpochJob::Part& part : job->parts) {
      if (part.offsets_log.empty()) continue;
      SC_RETURN_IF_ERROR(
          checkpoints_->PutOffsetsLog(part.p, part.epoch, part.offsets_log, &job->retries));
    }
    // 2. The lake: one commit per table, one txn per group. The tables are independent (each its
    // own log and DuckDB connection): two threads share them, the big ones split between the two.
    static constexpr std::array kFirst{OutputTable::kVehicle, OutputTable::kWeather,
                                       OutputTable::kTraffic, OutputTable::kEmergency};
    static constexpr std::array kSecond{OutputTable::kEnriched, OutputTable::kGps,
                                        OutputTable::kDeadLetters, OutputTable::kLateEvents};
    auto in_two = [&](bool stage) -> Status {
      TableCounts first_counts, second_counts;
      Status second;
      std::thread other([&] { second = CommitTables(job, kSecond, stage, &second_counts); });
      Status first = CommitTables(job, kFirst, stage, &first_counts);
      other.join();
      for (const TableCounts* c : {&first_counts, &second_counts}) {
        job->retries += c->retries;
        job->table_commits += c->commits;
        job->version_conflicts += c->conflicts;
        job->epochs_committed_by_others += c->by_others;
        job->intents_taken += c->intents_taken;
      }
      SC_RETURN_IF_ERROR(first);
      return second;
    };
    // Group commit, when other members write these tables (as the last log read saw them; a
    // lone member goes straight on): every table's files and staged epoch first, then a short wait
    // so that the others' are staged too and one commit lands them all (whichever member puts
    // first takes the others'; they find their epochs committed).
    bool others = false;
    for (const auto& t : tables_) others |= t->OtherWritersActive(job->txns);
    job->staged = others;
    job->done_tables = {};
    if (others) {
      SC_RETURN_IF_ERROR(in_two(/*stage=*/true));
      if (job->wait_for_peers && group_commit_wait_.count() > 0)
        clock_->SleepUntil(clock_->Now() + group_commit_wait_);
    }
    SC_RETURN_IF_ERROR(in_two(/*stage=*/false));
    // 3. State checkpoints.
    for (const EpochJob::Part& part : job->parts) {
      SC_RETURN_IF_ERROR(
          checkpoints_->PutState(part.p, part.epoch, part.checkpoint, &job->retries));
    }
    return Status::OK();
  }();
  const WallTime now = clock_->WallNow();
  const int64_t now_us = now.time_since_epoch().count();
  if (job->status.ok()) {
    for (const EpochJob::Part& part : job->parts) {
      for (const auto& [ms, n] : part.source_ms)
        job->lake_latency.Record(Micros(now_us - ms * 1000), n);
    }
  }
  job->commit.at = now;
  job->busy = std::chrono::duration_cast<Micros>(clock_->Now() - start);
}

Status EpochCommitter::CommitTables(EpochJob* job, std::span<const OutputTable> tables, bool stage,
                                    TableCounts* counts) {
  for (OutputTable t : tables) {
    const size_t i = static_cast<size_t>(t);
    lake::DeltaTable& table = *tables_[i];
    if (!stage && job->done_tables[i]) continue;
    if (stage || !job->staged) {
      // The table takes the rows' memory where it can (no copy); the part's batch is not read
      // again.
      for (EpochJob::Part& part : job->parts) {
        RecordBatch& rows = stream::OutputOf(part.out, t);
        if (rows.num_rows() > 0)
          SC_RETURN_IF_ERROR(
              table.Append(std::move(rows), TxnAppId(checkpoints_->query(), part.p)));
      }
    }
    lake::CommitResult result;
    SC_RETURN_IF_ERROR(retry_
                           ->Run(
                               [&]() -> Status {
                                 auto r = stage ? table.Stage(job->txns) : table.Commit(job->txns);
                                 if (!r.ok()) return r.status();
                                 result = *r;
                                 return Status::OK();
                               },
                               &counts->retries)
                           .WithContext((stage ? "staging " : "committing ") +
                                        std::string(stream::OutputTableName(t))));
    if (stage) {
      // A Stage normally leaves the table's outcome to the commit pass; a retried one can find
      // the epochs committed already (the staged epoch of a failed attempt was taken, or it is a
      // replay), and then that is the outcome.
      if (result.table_version < 0) continue;
      job->done_tables[i] = true;
    }
    // An epoch that another member's commit took (group commit) added no version of its own.
    if (!result.skipped && !result.committed_by_other) ++counts->commits;
    if (result.committed_by_other) ++counts->by_others;
    counts->intents_taken += static_cast<uint64_t>(result.intents_taken);
    if (result.attempts > 1) counts->conflicts += static_cast<uint64_t>(result.attempts - 1);
    job->commit.rows[i] = static_cast<uint64_t>(result.rows_added);  // each table is one thread's
  }
  return Status::OK();
}

}  // namespace smartcity::pipeline
