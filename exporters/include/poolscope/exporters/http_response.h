// One-write HTTP/1.x responses for CivetWeb handlers.
//
// CivetWeb's mg_response_header_send() writes the status line, every header
// line, the Date and Connection lines and the blank line with one send() each
// (8-10 system calls, and with TCP_NODELAY as many packets, per response).
// SendHttpResponse formats the whole response in one buffer and hands it to
// mg_write() once: one send() for a response that fits the socket buffer.
//
//   const HttpHeader extra[] = {{"Retry-After", "1"}};
//   SendHttpResponse(conn, {.status = 429, .content_type = "text/plain", .body = "busy\n",
//                           .headers = extra});
//
// The Connection header states what CivetWeb will do after the handler
// returns (keep-alive for HTTP/1.1 unless the client asked to close,
// HTTP/1.0 only when the client asked for keep-alive), so the client and the
// server agree on the connection's fate.
#pragma once

#include <ctime>
#include <span>
#include <string>
#include <string_view>

struct mg_connection;

namespace poolscope {

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

struct HttpResponseParts {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string_view body;
  std::span<const HttpHeader> headers = {};  // sent after Content-Type and Content-Length
  bool head = false;                         // HEAD: headers (with the body's length) only
};

// KeepAliveWanted reports whether a request with this HTTP version ("1.0",
// "1.1") and Connection header value (empty when absent) keeps its
// connection open: the header's tokens decide when present ("close" or
// "keep-alive", case-insensitive, comma-separated), else HTTP/1.1 does.
bool KeepAliveWanted(std::string_view http_version, std::string_view connection_header);

// FormatHttpResponse renders the whole response: status line, Content-Type,
// Content-Length, `parts.headers`, Date (from `now`), Connection, blank line
// and (unless head) the body.
std::string FormatHttpResponse(std::string_view http_version, const HttpResponseParts& parts,
                               bool keep_alive, std::time_t now);

// SendHttpResponse writes `parts` on `conn` with one mg_write(). `close`
// forces "Connection: close" (error pages); otherwise the request decides.
// Returns false when the client went away before all of it was written.
bool SendHttpResponse(mg_connection* conn, const HttpResponseParts& parts, bool close = false);

}  // namespace poolscope
