#include "transport/kafka_read_testutil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "transport/kafka_client.h"

namespace smartcity {

std::vector<StoredRecord> ReadWholeTopic(const std::string& bootstrap, const std::string& topic,
                                         int partitions) {
  KafkaOptions o;
  o.bootstrap_servers = bootstrap;
  auto conf = MakeKafkaConf(o, {{"group.id", "smartcity-test-reader"},
                                {"enable.partition.eof", "true"},
                                {"enable.auto.commit", "false"},
                                {"auto.offset.reset", "earliest"},
                                {"log_level", "0"}});
  EXPECT_TRUE(conf.ok()) << conf.status().message();
  if (!conf.ok()) return {};
  auto rk = MakeKafkaHandle(RD_KAFKA_CONSUMER, std::move(*conf));
  EXPECT_TRUE(rk.ok()) << rk.status().message();
  if (!rk.ok()) return {};
  RdKafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  EXPECT_EQ(rd_kafka_assign(rk->get(), list.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<StoredRecord> out;
  std::set<int32_t> at_end;
  // A bound so a broken read fails the test instead of hanging it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (static_cast<int>(at_end.size()) < partitions &&
         std::chrono::steady_clock::now() < give_up) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.push_back({std::string(static_cast<const char*>(m->key), m->key_len),
                     std::string(static_cast<const char*>(m->payload), m->len), m->partition,
                     m->offset});
    } else if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT &&
               m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      ADD_FAILURE() << "consume error on " << topic << ": " << rd_kafka_message_errstr(m);
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(static_cast<int>(at_end.size()), partitions) << "did not reach the end of " << topic;
  rd_kafka_consumer_close(rk->get());
  std::stable_sort(out.begin(), out.end(), [](const StoredRecord& a, const StoredRecord& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return out;
}

}  // namespace smartcity
