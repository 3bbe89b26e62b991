#include "poolscope/exporters/http_response.h"

#include <civetweb.h>

#include <cctype>

#include <fmt/format.h>

namespace poolscope {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool KeepAliveWanted(std::string_view http_version, std::string_view connection_header) {
  if (Trim(connection_header).empty()) return http_version == "1.1";
  bool keep = false;
  while (true) {
    const std::size_t comma = connection_header.find(',');
    const std::string_view token = Trim(connection_header.substr(0, comma));
    if (EqualsNoCase(token, "close")) return false;
    if (EqualsNoCase(token, "keep-alive")) keep = true;
    if (comma == std::string_view::npos) break;
    connection_header.remove_prefix(comma + 1);
  }
  return keep;
}

std::string FormatHttpResponse(std::string_view http_version, const HttpResponseParts& parts,
                               bool keep_alive, std::time_t now) {
  const char* reason = mg_get_response_code_text(nullptr, parts.status);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[64];
  const std::size_t date_len = std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);

  std::string out;
  out.reserve(160 + parts.headers.size() * 48 + (parts.head ? 0 : parts.body.size()));
  fmt::format_to(std::back_inserter(out),
                 "HTTP/{} {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                 http_version.empty() ? "1.1" : http_version, parts.status,
                 reason != nullptr ? reason : "", parts.content_type, parts.body.size());
  for (const HttpHeader& h : parts.headers) {
    fmt::format_to(std::back_inserter(out), "{}: {}\r\n", h.name, h.value);
  }
  fmt::format_to(std::back_inserter(out), "Date: {}\r\nConnection: {}\r\n\r\n",
                 std::string_view(date, date_len), keep_alive ? "keep-alive" : "close");
  if (!parts.head) out.append(parts.body);
  return out;
}

bool SendHttpResponse(mg_connection* conn, const HttpResponseParts& parts, bool close) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string_view version =
      info != nullptr && info->http_version != nullptr ? info->http_version : "1.1";
  bool keep_alive = false;
  if (!close) {
    const char* header = mg_get_header(conn, "Connection");
    keep_alive = KeepAliveWanted(version, header != nullptr ? header : "");
  }
  const std::string text = FormatHttpResponse(version, parts, keep_alive, std::time(nullptr));
  return mg_write(conn, text.data(), text.size()) == static_cast<int>(text.size());
}

}  // namespace poolscope
