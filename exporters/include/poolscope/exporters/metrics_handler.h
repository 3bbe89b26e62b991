// MetricsHandler renders collectables in the Prometheus text format for
// /metrics. A scrape only reads what samplers already published.
//
// Thread-safety: Render() is safe from any thread once constructed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

namespace poolscope {

class MetricsHandler {
 public:
  explicit MetricsHandler(std::vector<std::shared_ptr<prometheus::Collectable>> sources);

  // Render returns the exposition text of every source.
  std::string Render() const;

  // ContentType is the text format's media type.
  static const char* ContentType() { return "text/plain; version=0.0.4; charset=utf-8"; }

 private:
  std::vector<std::shared_ptr<prometheus::Collectable>> sources_;
};

}  // namespace poolscope
