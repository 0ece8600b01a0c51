// errors.h — the HTTP layer's errors, as std::error_code values.
//
//   if (auto err = srv.ListenAndServe(); err != http::ErrServerClosed) log(err.message());
#pragma once

#include <string>
#include <system_error>

namespace ringo::http {

enum class Errc {
  serverClosed = 1,  // Serve returned because of Shutdown or Close: Go's ErrServerClosed
  bodyTooLarge,      // a body read went past MaxBytesReader's or the server's limit
  bodyMalformed,     // the request body's framing was bad (an invalid chunk)
  hijacked,          // the connection was taken over with Hijack
  notSupported,      // the ResponseWriter cannot do that (Hijack over TLS, ...)
  contentLength,     // a handler wrote more than the Content-Length it set
  badStatus,         // WriteHeader with a code outside 100..999
  abortHandler,      // the connection is gone (client closed, write failed)
};

namespace detail {
class errorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringo.http"; }
  std::string message(int c) const override {
    switch (Errc(c)) {
      case Errc::serverClosed: return "http: Server closed";
      case Errc::bodyTooLarge: return "http: request body too large";
      case Errc::bodyMalformed: return "http: malformed request body";
      case Errc::hijacked: return "http: connection has been hijacked";
      case Errc::notSupported: return "http: not supported by this connection";
      case Errc::contentLength: return "http: wrote more than the declared Content-Length";
      case Errc::badStatus: return "http: invalid status code";
      case Errc::abortHandler: return "http: connection closed";
    }
    return "unknown ringo.http error";
  }
};
}  // namespace detail

inline const std::error_category& ErrorCategory() noexcept {
  static const detail::errorCategory c;
  return c;
}
inline std::error_code make_error_code(Errc e) noexcept { return {int(e), ErrorCategory()}; }

inline const std::error_code ErrServerClosed = make_error_code(Errc::serverClosed);
inline const std::error_code ErrBodyTooLarge = make_error_code(Errc::bodyTooLarge);
inline const std::error_code ErrHijacked = make_error_code(Errc::hijacked);
inline const std::error_code ErrNotSupported = make_error_code(Errc::notSupported);
inline const std::error_code ErrContentLength = make_error_code(Errc::contentLength);

}  // namespace ringo::http

template <>
struct std::is_error_code_enum<ringo::http::Errc> : std::true_type {};
