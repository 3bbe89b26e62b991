#include "poolscope/exporters/metrics_handler.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "poolscope/exporters/snapshot_collector.h"

namespace poolscope {

MetricsHandler::MetricsHandler(std::vector<std::shared_ptr<prometheus::Collectable>> sources)
    : sources_(std::move(sources)) {}

std::string MetricsHandler::Render() const {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& s : sources_) {
    auto f = s->Collect();
    families.insert(families.end(), std::make_move_iterator(f.begin()),
                    std::make_move_iterator(f.end()));
  }
  std::ostringstream out;
  // Sources may share a family (the registry's and a sampler's): one block each.
  prometheus::TextSerializer().Serialize(out, MergeFamilies(std::move(families)));
  return out.str();
}

}  // namespace poolscope
