// CancelInBackground: ask a PostgreSQL server to cancel a running query
// without blocking the caller.
//
// libpq 15's PQcancel() connects to the postmaster and waits, with no timeout,
// for it to close the connection; against a frozen or unreachable server it
// blocks forever. Callers with deadlines hand the cancel to a background
// thread instead. At most kMaxInFlight cancels run at once; past that the
// cancel is dropped (the caller drops the connection anyway) and counted.
//
// Thread-safety: safe from any thread.
#pragma once

#include <cstdint>

struct pg_cancel;  // libpq's PGcancel, kept out of public headers

namespace poolscope {

// CancelInBackground takes ownership of `cancel` (from PQgetCancel) and sends
// it on a background thread, freeing it afterwards. Returns false when too
// many cancels are already in flight (the cancel is freed, not sent).
bool CancelInBackground(pg_cancel* cancel);

// CancelsDropped counts cancels dropped because too many were in flight.
std::uint64_t CancelsDropped();

}  // namespace poolscope
