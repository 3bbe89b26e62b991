// Rows: the result of one query, owning libpq's result (freed in the
// destructor). Values are text; helpers parse the common types.
//
//   Result<Rows> r = lease.Query("SELECT id, name FROM t WHERE id = $1", {42});
//   if (!r) return r.error();
//   for (int i = 0; i < r->size(); ++i) use(r->GetInt(i, 0), r->Get(i, 1));
//
// Thread-safety: read-only after construction; safe to read from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

struct pg_result;  // libpq's PGresult, kept out of public headers

namespace poolscope {

class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* result);  // takes ownership

  // size is the number of rows; columns the number of columns.
  int size() const;
  int columns() const;
  bool empty() const { return size() == 0; }
  // affected is the row count of INSERT/UPDATE/DELETE (0 otherwise).
  std::int64_t affected() const;

  // Get returns the text of a value ("" for NULL; see IsNull).
  std::string_view Get(int row, int column) const;
  bool IsNull(int row, int column) const;
  // GetInt parses an integer value; nullopt for NULL or non-integers.
  std::optional<std::int64_t> GetInt(int row, int column) const;
  // Command is the command tag ("SELECT 3", "ROLLBACK", ...).
  std::string_view Command() const;
  // ColumnName returns the name of `column`.
  std::string_view ColumnName(int column) const;

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> result_;
};

}  // namespace poolscope
