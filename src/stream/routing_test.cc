// Keys that are not the device id (RoutingOptions): records spread over partitions regardless of
// their device are forwarded to the device's group and joined there, and a forwarder that crashed
// and forwards again has its copies dropped, before and after the receiving group restarts from its
// checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "stream/core.h"
#include "stream/stream_testutil.h"
#include "stream/tables.h"
#include "transport/kafka_client.h"

namespace smartcity::stream {
namespace {

constexpr int32_t kPartitions = 3;
const WallTime kReceived = WallTime(Micros(1'767'600'000'000'000LL));

std::string Ts(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2026-01-05T07:%02d:%02d.000000Z", i / 60, i % 60);
  return buf;
}

std::string Payload(Topic t, const std::string& device, int i) {
  const std::string id =
      device + "-" + std::to_string(static_cast<int>(t)) + "-" + std::to_string(i);
  const std::string head = "{\"id\":\"" + id + "\",\"deviceId\":\"" + device +
                           "\",\"timestamp\":\"" + Ts(i) + "\",\"location\":\"(51.5, -0.12)\",";
  switch (t) {
    case Topic::kVehicle:
      return head +
             "\"speed\":14.4,\"direction\":\"North\",\"make\":\"BMW\",\"model\":\"C500\","
             "\"year\":2024,\"fuelType\":\"Hybrid\"}";
    case Topic::kWeather:
      return head +
             "\"temperature\":2.9,\"weatherCondition\":\"Cloudy\",\"precipitation\":0.0,"
             "\"windSpeed\":7.6,\"humidity\":85,\"airQualityIndex\":98}";
    default:
      return head + "\"incidentId\":\"INC-" + id +
             "\",\"type\":\"Fire\",\"status\":\"Active\",\"description\":\"x\"}";
  }
}

struct Record {
  Topic topic;
  int32_t partition;  // where it was written (as a producer keyed by event id spreads them)
  int64_t offset;
  std::string payload;
};

// Six devices, twenty steps, one record per join input per step, spread round robin.
std::vector<Record> Spread(std::vector<std::string>* devices) {
  for (int d = 0; d < 6; ++d) devices->push_back("vehicle-" + std::to_string(d));
  std::vector<Record> records;
  std::array<std::array<int64_t, kPartitions>, kTopicCount> next{};
  int n = 0;
  for (int i = 0; i < 20; ++i) {
    for (const std::string& device : *devices) {
      for (Topic t : {Topic::kVehicle, Topic::kWeather, Topic::kEmergency}) {
        const int32_t p = n++ % kPartitions;
        records.push_back({t, p, next[static_cast<size_t>(t)][p]++, Payload(t, device, i)});
      }
    }
  }
  return records;
}

StreamCoreOptions Options(bool forward) {
  StreamCoreOptions o;
  o.routing.partitions = kPartitions;
  o.routing.forward = forward;
  return o;
}

// (deviceId, timestamp, incidentId) of every enriched row.
using Row = std::tuple<std::string, int64_t, std::string>;
void CollectRows(const RecordBatch& enriched, std::vector<Row>* rows) {
  const auto col = [&](std::string_view name) {
    const int c = enriched.schema().IndexOf(name);
    EXPECT_GE(c, 0) << "no column " << name;
    return static_cast<size_t>(std::max(c, 0));
  };
  const size_t device = col("deviceId"), ts = col("timestamp"), incident = col("incidentId");
  for (size_t r = 0; r < enriched.num_rows(); ++r) {
    rows->emplace_back(
        std::string(enriched.column(device).GetString(r)), enriched.column(ts).GetInt64(r),
        enriched.column(incident).IsNull(r) ? ""
                                            : std::string(enriched.column(incident).GetString(r)));
  }
}

TEST(RoutingTest, MisplacedRecordsAreForwardedAndJoinedInTheirDevicesGroup) {
  std::vector<std::string> devices;
  const std::vector<Record> records = Spread(&devices);
  FakeClock clock;
  std::vector<std::unique_ptr<StreamCore>> cores;
  std::vector<StreamOutput> outs(kPartitions);
  for (int32_t p = 0; p < kPartitions; ++p) {
    cores.push_back(std::make_unique<StreamCore>(Options(true), &clock));
    cores.back()->SetPartition(p);
  }
  // Each group reads its partition; what it hands out goes to the device's group.
  std::vector<std::vector<std::string>> forwarded(kPartitions);  // payload copies
  std::vector<std::vector<InputRecord>> inbox(kPartitions);
  uint64_t misplaced = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    std::vector<InputRecord> in;
    for (const Record& r : records) {
      if (r.partition == p) in.push_back({r.topic, {PartitionId(p), r.offset}, r.payload});
    }
    cores[p]->Process(in, kReceived, &outs[p]);
    for (const ForwardRecord& f : cores[p]->forwards()) {
      ASSERT_NE(f.to.value(), p);
      ASSERT_EQ(JavaPartitionForKey(f.device_id, kPartitions), f.to.value());
      inbox[f.to.value()].push_back({f.topic, f.position, f.payload, /*repartition=*/true});
    }
    misplaced += cores[p]->routing_counters().misplaced;
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    cores[p]->Process(inbox[p], kReceived, &outs[p]);
    cores[p]->Flush(&outs[p]);
  }
  size_t expected_misplaced = 0;
  for (const Record& r : records) {
    const std::string device = "vehicle-" + r.payload.substr(r.payload.find("vehicle-") + 8, 1);
    expected_misplaced += JavaPartitionForKey(device, kPartitions) != r.partition;
  }
  EXPECT_EQ(misplaced, expected_misplaced);
  EXPECT_GT(misplaced, records.size() / 2);
  // Raw tables: every record once, where it was read. Enriched: every vehicle record with its
  // weather and its incident, once.
  std::vector<Row> rows;
  size_t raw = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    for (Topic t : kAllTopics) raw += outs[p].Raw(t).num_rows();
    CollectRows(outs[p].enriched, &rows);
    EXPECT_EQ(outs[p].late_events.num_rows(), 0u);
    EXPECT_EQ(outs[p].dead_letters.num_rows(), 0u);
    EXPECT_EQ(cores[p]->routing_counters().duplicates, 0u);
  }
  EXPECT_EQ(raw, records.size());
  ASSERT_EQ(rows.size(), devices.size() * 20);
  std::set<Row> distinct(rows.begin(), rows.end());
  EXPECT_EQ(distinct.size(), rows.size());
  for (const Row& r : rows) EXPECT_NE(std::get<2>(r), "") << std::get<0>(r);
}

TEST(RoutingTest, WithoutForwardingMisplacedRecordsAreCountedAndTheJoinMissesThem) {
  std::vector<std::string> devices;
  const std::vector<Record> records = Spread(&devices);
  FakeClock clock;
  std::vector<Row> rows;
  uint64_t misplaced = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    StreamCore core(Options(false), &clock);
    core.SetPartition(p);
    StreamOutput out;
    std::vector<InputRecord> in;
    for (const Record& r : records) {
      if (r.partition == p) in.push_back({r.topic, {PartitionId(p), r.offset}, r.payload});
    }
    core.Process(in, kReceived, &out);
    core.Flush(&out);
    EXPECT_TRUE(core.forwards().empty());
    misplaced += core.routing_counters().misplaced;
    CollectRows(out.enriched, &rows);
  }
  EXPECT_GT(misplaced, 0u);
  EXPECT_LT(rows.size(), devices.size() * 20);
}

TEST(RoutingTest, CoPartitionedInputForwardsNothing) {
  FakeClock clock;
  const std::string device = "vehicle-7";
  const int32_t home = JavaPartitionForKey(device, kPartitions);
  StreamCore core(Options(true), &clock);
  core.SetPartition(home);
  StreamOutput out;
  std::vector<std::string> payloads;
  for (int i = 0; i < 5; ++i) {
    for (Topic t : {Topic::kVehicle, Topic::kWeather, Topic::kEmergency})
      payloads.push_back(Payload(t, device, i));
  }
  std::vector<InputRecord> in;
  for (size_t i = 0; i < payloads.size(); ++i) {
    const Topic t = static_cast<Topic>(std::array{0, 3, 4}[i % 3]);
    in.push_back({t, {PartitionId(home), static_cast<int64_t>(i / 3)}, payloads[i]});
  }
  core.Process(in, kReceived, &out);
  EXPECT_TRUE(core.forwards().empty());
  EXPECT_EQ(core.routing_counters().misplaced, 0u);
  EXPECT_EQ(out.enriched.num_rows(), 5u);
  // Nothing forwarded: the checkpoint is the one a core without routing writes.
  std::string with, without;
  ASSERT_TRUE(core.SerializeState(&with).ok());
  StreamCore plain(StreamCoreOptions{}, &clock);
  StreamOutput out2;
  plain.Process(in, kReceived, &out2);
  ASSERT_TRUE(plain.SerializeState(&without).ok());
  EXPECT_EQ(with, without);
}

// The forwarder of origin partition 1 forwards vehicles and weather records 0..9 of one device;
// the receiving group checkpoints after 0..5. The forwarder crashes before its own checkpoint and
// forwards 0..9 again. The receiver drops the second copies, and so does a receiver restarted from
// its checkpoint that reads the same log again: each vehicle is joined exactly once either way.
TEST(RoutingTest, RecordsForwardedAgainAfterACrashAreDroppedAlsoAfterARestart) {
  FakeClock clock;
  const std::string device = "vehicle-7";
  const int32_t home = JavaPartitionForKey(device, kPartitions);
  const int32_t origin = (home + 1) % kPartitions;
  std::vector<std::string> payloads;
  std::vector<InputRecord> log;  // the receiver's repartition partitions, in the order it reads
  for (int i = 0; i < 10; ++i) {
    payloads.push_back(Payload(Topic::kVehicle, device, i));
    payloads.push_back(Payload(Topic::kWeather, device, i));
  }
  for (int i = 0; i < 10; ++i) {
    log.push_back({Topic::kVehicle, {PartitionId(origin), 100 + i}, payloads[2 * i], true});
    log.push_back({Topic::kWeather, {PartitionId(origin), 200 + i}, payloads[2 * i + 1], true});
  }
  const std::span<const InputRecord> all(log);
  const auto first = all.subspan(0, 12), rest = all.subspan(12);

  StreamCore receiver(Options(true), &clock);
  receiver.SetPartition(home);
  StreamOutput before;
  receiver.Process(first, kReceived, &before);
  std::string checkpoint;
  ASSERT_TRUE(receiver.SerializeState(&checkpoint).ok());

  const auto finish = [&](StreamCore& core, StreamOutput* out) {
    core.Process(rest, kReceived, out);
    core.Process(all, kReceived, out);  // the forwarder, restarted, sends 0..9 again
    core.Flush(out);
  };
  StreamOutput after;
  finish(receiver, &after);
  EXPECT_EQ(receiver.routing_counters().duplicates, 20u);
  EXPECT_EQ(receiver.routing_counters().received, 20u);

  StreamCore restarted(Options(true), &clock);
  restarted.SetPartition(home);
  ASSERT_TRUE(restarted.RestoreState(checkpoint).ok());
  StreamOutput again;
  finish(restarted, &again);
  EXPECT_EQ(restarted.routing_counters().duplicates, 20u);

  std::vector<Row> once, replayed;
  CollectRows(before.enriched, &once);
  CollectRows(before.enriched, &replayed);
  CollectRows(after.enriched, &once);
  CollectRows(again.enriched, &replayed);
  ASSERT_EQ(once.size(), 10u);
  EXPECT_EQ(std::set<Row>(once.begin(), once.end()).size(), 10u);
  std::sort(once.begin(), once.end());
  std::sort(replayed.begin(), replayed.end());
  EXPECT_EQ(once, replayed);
  // Forwarded records are joined, never written again to a raw table.
  for (Topic t : kAllTopics) EXPECT_EQ(after.Raw(t).num_rows() + again.Raw(t).num_rows(), 0u);
}

}  // namespace
}  // namespace smartcity::stream
