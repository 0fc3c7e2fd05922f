// A steady, bounded HTTP load for the zero-downtime tests: a few threads, each sending one
// `GET /` per new connection (Connection: close) to 127.0.0.1:PORT, back to back, and counting
// answers by body, refused connections and any other failure (reset, short or no answer).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::testing {

struct LoadCounts {
  uint64_t ok = 0, refused = 0, failed = 0;
  std::map<std::string, uint64_t> bodies;  // how many answers carried each body
  std::vector<std::string> failures;       // the first few, with why
};

class LoadClient {
 public:
  LoadClient(uint16_t port, int threads = 2);
  ~LoadClient();  // stops
  // Blocks until `n` more answers (good or bad) have come back than when called.
  void wait_for_more(uint64_t n);
  // Blocks until an answer with this body has come back.
  void wait_for_body(const std::string& body);
  LoadCounts stop();
  LoadCounts counts();

 private:
  void run();
  uint16_t port_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  LoadCounts counts_;
  std::vector<std::thread> threads_;
};

// The zero-downtime tests' verdict: answers came back, none failed and no connection was
// refused (each failure is reported with why).
void expect_no_loss(const LoadCounts& c);

}  // namespace berth::testing
