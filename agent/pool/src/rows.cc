#include "poolscope/pool/rows.h"

#include <libpq-fe.h>

#include <charconv>

namespace poolscope {

void Rows::Clear::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* result) : result_(result) {}

int Rows::size() const { return result_ ? PQntuples(result_.get()) : 0; }
int Rows::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

std::int64_t Rows::affected() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  std::int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

std::string_view Rows::Get(int row, int column) const {
  if (!result_ || row < 0 || row >= size() || column < 0 || column >= columns()) return {};
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

bool Rows::IsNull(int row, int column) const {
  if (!result_ || row < 0 || row >= size() || column < 0 || column >= columns()) return true;
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::optional<std::int64_t> Rows::GetInt(int row, int column) const {
  if (IsNull(row, column)) return std::nullopt;
  std::string_view s = Get(row, column);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view Rows::Command() const {
  if (!result_) return {};
  return PQcmdStatus(result_.get());
}

std::string_view Rows::ColumnName(int column) const {
  if (!result_ || column < 0 || column >= columns()) return {};
  return PQfname(result_.get(), column);
}

}  // namespace poolscope
