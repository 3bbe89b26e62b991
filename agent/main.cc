// poolscope-agent: parse flags, load the config, run the Agent until SIGTERM
// or SIGINT; SIGHUP reloads the config file (a bad one is refused with one
// log line and the running config kept). Exit codes: 0 clean stop, 2 bad flags or configuration (or
// the listen address unavailable), 1 anything else.
#include <csignal>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "poolscope/agent/agent.h"
#include "poolscope/config/config.h"
#include "poolscope/core/logging.h"
#include "poolscope/core/version.h"

namespace {

constexpr int kExitConfig = 2;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "poolscope-agent: pool-health and observability agent for PostgreSQL, Redis and "
      "PgBouncer"};
  std::string config_path = "/etc/poolscope/poolscope.yaml";
  std::string check_path;
  app.add_option("-c,--config", config_path, "Configuration file (YAML)")->capture_default_str();
  app.add_option("--check-config", check_path, "Validate this configuration file and exit");
  app.set_version_flag("--version", fmt::format("poolscope-agent {} ({})", poolscope::Version(),
                                                poolscope::Revision()));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfig;
  }

  if (!check_path.empty()) {
    auto cfg = poolscope::LoadConfigFile(check_path);
    if (!cfg) {
      std::fprintf(stderr, "poolscope-agent: %s\n", cfg.error().message.c_str());
      return kExitConfig;
    }
    for (const auto& w : cfg->warnings)
      std::fprintf(stderr, "poolscope-agent: warning: %s\n", w.c_str());
    std::printf("%s: ok (%zu postgres, %zu redis targets; http on %s)\n", check_path.c_str(),
                cfg->postgres.size(), cfg->redis.size(), cfg->http.listen.ToString().c_str());
    return 0;
  }

  auto cfg = poolscope::LoadConfigFile(config_path);
  if (!cfg) {
    std::fprintf(stderr, "poolscope-agent: %s\n", cfg.error().message.c_str());
    return kExitConfig;
  }
  poolscope::SetupLogging(cfg->log.level, cfg->log.format);

  // Block the stop signals in every thread (they inherit this mask); this
  // thread alone takes them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  poolscope::Agent agent(std::move(*cfg));
  if (poolscope::Status s = agent.Start(); !s) {
    std::fprintf(stderr, "poolscope-agent: %s: %s\n", config_path.c_str(),
                 s.error().message.c_str());
    return kExitConfig;
  }
  int sig = 0;
  while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
    auto next = poolscope::LoadConfigFile(config_path);
    if (!next) {
      spdlog::error("SIGHUP: configuration not reloaded, keeping the running one: {}",
                    next.error().message);
      continue;
    }
    spdlog::info("SIGHUP: reloading {}", config_path);
    agent.Reload(std::move(*next));
  }
  spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  agent.Stop();
  spdlog::info("stopped");
  return 0;
}
