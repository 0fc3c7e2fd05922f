// Prometheus's text exposition format (version 0.0.4), written: each family's HELP and TYPE
// once, then its samples, label values escaped (\\ \" \n). Pure; any thread.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::api {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PromText {
 public:
  // Starts a family: `type` is counter, gauge or histogram.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // A sample of the family begun last (`name` may add _bucket, _sum, _count, _total).
  void sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace berth::api
